//! How far each user has read each room, and what that leaves unread: the room list's counts.
//! Stored per user and room, so they follow the user to every browser.

use shared::api::{UNREAD_SCAN, Unread};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Backend, Store, StoreError};

/// Columns for a query over `rooms JOIN channels LEFT JOIN reads` (the reader's row): the
/// reader's mark, and how many of the channel's newest [`UNREAD_SCAN`] entries after it are
/// messages (entries with text) by someone other than `name_param`. Counting a bounded window
/// keeps a room list cheap however far behind its reader is (`PRIMARY KEY (channel_id, seq)`
/// makes the window one range).
pub(super) fn unread_columns(backend: Backend, name_param: &str) -> String {
    let (greatest, author) = match backend {
        Backend::Sqlite => ("MAX", "json_extract(e.payload, '$.author')"),
        Backend::Postgres => ("GREATEST", "(e.payload::json ->> 'author')"),
    };
    format!(
        "COALESCE(reads.seq, 0) AS read_seq, \
         (SELECT COUNT(*) FROM entries e WHERE e.channel_id = channels.id \
            AND e.seq > {greatest}(COALESCE(reads.seq, 0), channels.last_seq - {UNREAD_SCAN}) \
            AND e.search_text IS NOT NULL AND {author} <> {name_param}) AS unread"
    )
}

/// The count from [`unread_columns`]; `more` when the mark is older than the window.
pub(super) fn unread_from_row(row: &AnyRow, last_seq: u64) -> Result<Unread, sqlx::Error> {
    let read: i64 = row.try_get("read_seq")?;
    let count: i64 = row.try_get("unread")?;
    Ok(Unread {
        count: count as u32,
        more: (read as u64) + u64::from(UNREAD_SCAN) < last_seq,
    })
}

impl Store {
    /// Moves `user`'s read mark in room `room_id` to `seq`, unless it is already further;
    /// returns the mark now.
    pub async fn mark_read(&self, user: Uuid, room_id: i64, seq: u64) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO reads (user_id, room_id, seq) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, room_id) DO UPDATE SET seq = \
               CASE WHEN excluded.seq > reads.seq THEN excluded.seq ELSE reads.seq END \
             RETURNING seq",
        )
        .bind(user.to_string())
        .bind(room_id)
        .bind(seq as i64)
        .fetch_one(&self.writer)
        .await?;
        Ok(row.try_get::<i64, _>("seq")? as u64)
    }
}
