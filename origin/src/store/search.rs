//! Full-text search in a channel's entries: SQLite's FTS5 or Postgres's full-text search behind
//! one method. Both index `entries.search_text`, an entry's words as `shared::api::words` finds
//! them, so both find the same entries for the same words (migrations `0006_search.sql`).

use shared::event::Entry;
use sqlx::any::AnyRow;

use super::channels::entry_from_row;
use super::{Backend, Store, StoreError};

/// `entries_search`'s rowid is `channel_id * 2^40 + seq` (SQLite): one channel is one range.
const CHANNEL_SPAN: i64 = 1 << 40;

/// How many of a channel's newest entries Postgres searches by walking them (see
/// `Store::search_postgres`): about a millisecond's reading, enough to fill a page for a word
/// in one message of fifty.
const NEWEST_WALK: i64 = 1_000;

/// The words stored for `entry`, `None` if it is not read as text.
pub(crate) fn search_text<E: Entry>(entry: &E) -> Option<String> {
    entry
        .text()
        .map(|text| shared::api::words(text).collect::<Vec<_>>().join(" "))
}

impl Store {
    /// Up to `limit` entries of the channel with seq < `before` (all if `None`) whose text has,
    /// for each of `words`, a word that starts with it; newest first. `words` come from
    /// `shared::api::search_words`: letters and digits only, so they need no quoting beyond
    /// the query syntax's own.
    pub async fn search<E: Entry>(
        &self,
        channel_id: i64,
        words: &[String],
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<E>, StoreError> {
        let rows = match self.backend {
            Backend::Sqlite => {
                let before = before.map_or(CHANNEL_SPAN, |b| (b as i64).min(CHANNEL_SPAN));
                // `"word"*`: a prefix query; phrases side by side must all match.
                let query: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
                let base = channel_id * CHANNEL_SPAN;
                sqlx::query(
                    "SELECT entries.payload FROM entries_search \
                     JOIN entries ON entries.channel_id = $1 \
                      AND entries.seq = entries_search.rowid - $2 \
                     WHERE entries_search MATCH $3 \
                       AND entries_search.rowid > $2 AND entries_search.rowid < $4 \
                     ORDER BY entries_search.rowid DESC LIMIT $5",
                )
                .bind(channel_id)
                .bind(base)
                .bind(query.join(" "))
                .bind(base + before)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            Backend::Postgres => {
                // `word:*`: a prefix; `&`: all of them.
                let query: Vec<String> = words.iter().map(|w| format!("{w}:*")).collect();
                let top = match before {
                    Some(before) => before,
                    None => self.last_seq(channel_id).await? + 1,
                };
                self.search_postgres(channel_id, &query.join(" & "), top as i64, limit)
                    .await?
            }
        };
        Ok(rows.iter().map(entry_from_row).collect::<Result<_, _>>()?)
    }

    /// Postgres's half of [`Store::search`]: matches of `query` below seq `top`, newest first.
    ///
    /// Postgres plans a full-text match by how many rows it expects to match, and for a prefix
    /// (`word:*`) it expects the same share whatever the word: it walks the room newest first
    /// and filters, which for a rare word reads far back and for a miss reads the whole room
    /// (over a second per query at 1,000,000 messages, docs/BENCHMARKS.md), or it asks the
    /// index for every row with the word, which for a word in every message is a million. So
    /// two steps, each with one plan: the newest [`NEWEST_WALK`] entries are walked, with a
    /// match the index cannot answer (`coalesce`), where a common word fills the page; the rest
    /// comes from the index, ordered by `seq + 0` so that the planner cannot walk the primary
    /// key for it, where a rare word is found quickly and a miss at once.
    async fn search_postgres(
        &self,
        channel_id: i64,
        query: &str,
        top: i64,
        limit: u32,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let floor = (top - NEWEST_WALK).max(0);
        let mut rows = sqlx::query(
            "SELECT payload FROM entries \
             WHERE channel_id = $1 AND seq < $2 AND seq >= $4 \
               AND to_tsvector('simple', coalesce(search_text, '')) @@ to_tsquery('simple', $3) \
             ORDER BY seq DESC LIMIT $5",
        )
        .bind(channel_id)
        .bind(top)
        .bind(query)
        .bind(floor)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let missing = i64::from(limit) - rows.len() as i64;
        if missing > 0 && floor > 0 {
            let older = sqlx::query(
                "SELECT payload FROM entries \
                 WHERE channel_id = $1 AND seq < $2 AND search_text IS NOT NULL \
                   AND to_tsvector('simple', search_text) @@ to_tsquery('simple', $3) \
                 ORDER BY seq + 0 DESC LIMIT $4",
            )
            .bind(channel_id)
            .bind(floor)
            .bind(query)
            .bind(missing)
            .fetch_all(&self.pool)
            .await?;
            rows.extend(older);
        }
        Ok(rows)
    }
}
