-- Search (origin/src/store/search.rs): the words of every entry read as text, as
-- `shared::api::words` finds them, joined by spaces (NULL for entries that are not text:
-- samples, amendments, tombstones), and a full-text index of them. The `simple` configuration
-- neither stems nor drops stop words: the same words SQLite's FTS5 finds.
ALTER TABLE entries ADD COLUMN search_text TEXT;

-- Messages stored before: their body, which the parser splits into (nearly) the same words.
UPDATE entries SET search_text = payload::json ->> 'body'
WHERE channel_id IN (SELECT channel_id FROM rooms)
  AND payload::json ->> 'amends' IS NULL
  AND NOT COALESCE((payload::json ->> 'deleted')::boolean, false);

CREATE INDEX entries_search ON entries USING gin (to_tsvector('simple', search_text))
WHERE search_text IS NOT NULL;
