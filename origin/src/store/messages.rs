//! Messages: appended with a gapless per-room `seq`, read back in seq order for replays and history.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{RoomRow, Store, StoreError, now_millis};
use shared::api::User;
use shared::message::Message;
use shared::publish::ChainId;

/// What a post adds; the store assigns `seq`, `id` and `sent_at`.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub author: &'a User,
    pub body: &'a str,
    pub client_id: &'a str,
}

/// What [`Store::append_message`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub message: Message,
    /// For a new message, the chain link its publish follows (its `prev-id`): the message before
    /// it, or the last head after that one. `None` when this author had already posted with this
    /// `client_id`: `message` is that earlier one, and nothing new is to be published.
    pub follows: Option<ChainId>,
}

impl Appended {
    pub fn is_new(&self) -> bool {
        self.follows.is_some()
    }
}

const MESSAGE_COLUMNS: &str = "seq, id, author, body, client_id, sent_at";

fn message_from_row(room: &str, row: &AnyRow) -> Result<Message, sqlx::Error> {
    let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    let seq: i64 = row.try_get("seq")?;
    let id: String = row.try_get("id")?;
    let sent_at: i64 = row.try_get("sent_at")?;
    Ok(Message {
        room: room.to_owned(),
        seq: seq as u64,
        id: Uuid::parse_str(&id).map_err(|e| decode(Box::new(e)))?,
        author: row.try_get("author")?,
        body: row.try_get("body")?,
        client_id: row.try_get("client_id")?,
        sent_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(sent_at) * 1_000_000)
            .map_err(|e| decode(Box::new(e)))?,
    })
}

impl Store {
    /// Appends a message, or finds the one this author already posted with the same
    /// `client_id` (a retry must not post twice).
    ///
    /// Why seq has no gaps: the transaction's first statement bumps `rooms.last_seq`, which
    /// locks that room's row (Postgres) or takes the write lock (SQLite) until commit, so posts
    /// to one room take turns; and a failed insert rolls the bump back with it. The same
    /// statement reads the chain tail before it (the heads announced since the previous message).
    pub async fn append_message(
        &self,
        room: &RoomRow,
        new: NewMessage<'_>,
    ) -> Result<Appended, StoreError> {
        if let Some(existing) = self.message_by_client_id(room, new).await? {
            return Ok(Appended {
                message: existing,
                follows: None,
            });
        }
        let mut tx = self.pool.begin().await?;
        let bumped = sqlx::query(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 \
             RETURNING last_seq, head_seq, heads",
        )
        .bind(room.id)
        .fetch_one(&mut *tx)
        .await?;
        let seq: i64 = bumped.try_get("last_seq")?;
        let head_seq: i64 = bumped.try_get("head_seq")?;
        let heads: i64 = bumped.try_get("heads")?;
        // The heads count applies if they were announced after the previous message.
        let follows = ChainId {
            seq: (seq - 1) as u64,
            heads: if head_seq == seq - 1 { heads as u32 } else { 0 },
        };
        let id = Uuid::new_v4();
        let sent_at = now_millis();
        let inserted = sqlx::query(
            "INSERT INTO messages (room_id, seq, id, author_id, author, body, client_id, sent_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(room.id)
        .bind(seq)
        .bind(id.to_string())
        .bind(new.author.id.to_string())
        .bind(&new.author.name)
        .bind(new.body)
        .bind(new.client_id)
        .bind(sent_at)
        .execute(&mut *tx)
        .await;
        match inserted.map_err(StoreError::from_insert) {
            Ok(_) => {}
            // The same client_id raced us in and committed first: that one is the message.
            Err(StoreError::Conflict) => {
                tx.rollback().await?;
                let existing = self.message_by_client_id(room, new).await?;
                return existing
                    .map(|message| Appended {
                        message,
                        follows: None,
                    })
                    .ok_or(StoreError::Conflict);
            }
            Err(other) => return Err(other),
        }
        tx.commit().await?;
        let message = Message {
            room: room.room.slug.clone(),
            seq: seq as u64,
            id,
            author: new.author.name.clone(),
            body: new.body.to_owned(),
            client_id: new.client_id.to_owned(),
            sent_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(sent_at) * 1_000_000)
                .expect("now is a valid timestamp"),
        };
        Ok(Appended {
            message,
            follows: Some(follows),
        })
    }

    async fn message_by_client_id(
        &self,
        room: &RoomRow,
        new: NewMessage<'_>,
    ) -> Result<Option<Message>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room_id = $1 AND author_id = $2 AND client_id = $3"
        ))
        .bind(room.id)
        .bind(new.author.id.to_string())
        .bind(new.client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .as_ref()
            .map(|r| message_from_row(&room.room.slug, r))
            .transpose()?)
    }

    /// Up to `limit` messages with seq > `after`, oldest first: what a reconnecting client missed.
    pub async fn messages_after(
        &self,
        room: &RoomRow,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        ))
        .bind(room.id)
        .bind(after as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(message_from_row(&room.room.slug, r)?))
            .collect()
    }

    /// Up to `limit` messages with seq < `before` (the newest if `None`), oldest first: a history page.
    pub async fn messages_before(
        &self,
        room: &RoomRow,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let before = before.map_or(i64::MAX, |b| b as i64);
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND seq < $2 \
             ORDER BY seq DESC LIMIT $3"
        ))
        .bind(room.id)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .rev()
            .map(|r| Ok(message_from_row(&room.room.slug, r)?))
            .collect()
    }
}
