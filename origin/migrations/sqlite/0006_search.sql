-- Search (origin/src/store/search.rs): the words of every entry read as text, as
-- `shared::api::words` finds them, joined by spaces (NULL for entries that are not text:
-- samples, amendments, tombstones), and an FTS5 index of them. Its rowid packs the entry's key,
-- channel_id * 2^40 + seq, so one room's results are a rowid range, newest first.
ALTER TABLE entries ADD COLUMN search_text TEXT;

-- Messages stored before: their body, which FTS5's tokenizer splits into the same words.
UPDATE entries SET search_text = json_extract(payload, '$.body')
WHERE channel_id IN (SELECT channel_id FROM rooms)
  AND json_extract(payload, '$.amends') IS NULL
  AND NOT COALESCE(json_extract(payload, '$.deleted'), 0);

CREATE VIRTUAL TABLE entries_search USING fts5 (words, tokenize = 'unicode61 remove_diacritics 0');

INSERT INTO entries_search (rowid, words)
SELECT channel_id * 1099511627776 + seq, search_text FROM entries WHERE search_text IS NOT NULL;

CREATE TRIGGER entries_search_insert AFTER INSERT ON entries WHEN new.search_text IS NOT NULL
BEGIN
    INSERT INTO entries_search (rowid, words)
    VALUES (new.channel_id * 1099511627776 + new.seq, new.search_text);
END;

-- An edit rewrites the words; a delete (a tombstone) removes them.
CREATE TRIGGER entries_search_update AFTER UPDATE OF search_text ON entries
BEGIN
    DELETE FROM entries_search WHERE rowid = old.channel_id * 1099511627776 + old.seq;
    INSERT INTO entries_search (rowid, words)
    SELECT new.channel_id * 1099511627776 + new.seq, new.search_text
    WHERE new.search_text IS NOT NULL;
END;

CREATE TRIGGER entries_search_delete AFTER DELETE ON entries WHEN old.search_text IS NOT NULL
BEGIN
    DELETE FROM entries_search WHERE rowid = old.channel_id * 1099511627776 + old.seq;
END;
