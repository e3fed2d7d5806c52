//! Full-text search in a channel's entries: SQLite's FTS5 or Postgres's full-text search behind
//! one method. Both index `entries.search_text`, an entry's words as `shared::api::words` finds
//! them, so both find the same entries for the same words (migrations `0006_search.sql`).

use shared::event::Entry;

use super::channels::entry_from_row;
use super::{Backend, Store, StoreError};

/// `entries_search`'s rowid is `channel_id * 2^40 + seq` (SQLite): one channel is one range.
const CHANNEL_SPAN: i64 = 1 << 40;

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
        let before = before.map_or(CHANNEL_SPAN, |b| (b as i64).min(CHANNEL_SPAN));
        let rows = match self.backend {
            Backend::Sqlite => {
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
                sqlx::query(
                    "SELECT payload FROM entries \
                     WHERE channel_id = $1 AND seq < $2 AND search_text IS NOT NULL \
                       AND to_tsvector('simple', search_text) @@ to_tsquery('simple', $3) \
                     ORDER BY seq DESC LIMIT $4",
                )
                .bind(channel_id)
                .bind(before)
                .bind(query.join(" & "))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows.iter().map(entry_from_row).collect::<Result<_, _>>()?)
    }
}
