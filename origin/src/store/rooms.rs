//! Rooms and who may read a private one.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Store, StoreError, now_millis};
use shared::api::Room;
use shared::publish::ChainId;

/// A room as stored: the public [`Room`] plus what access checks and posting need.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomRow {
    pub id: i64,
    pub room: Room,
    pub owner_id: Uuid,
    /// The seq of the newest message when the row was read (0: no message yet).
    pub last_seq: u64,
    /// The tail of the room's publish chain when the row was read: `last_seq`, or the last head
    /// published after it.
    pub chain: ChainId,
}

impl RoomRow {
    /// The chain link a stream that has every message up to `position` stands on: the room's
    /// tail if that is where it is, else the message itself (the stream is behind, and the next
    /// publish will show it).
    pub fn chain_at(&self, position: u64) -> ChainId {
        if position == self.chain.seq {
            self.chain
        } else {
            ChainId::message(position)
        }
    }
}

/// The chain tail from the columns `last_seq`, `head_seq` and `heads`.
fn chain_from_row(row: &AnyRow) -> Result<ChainId, sqlx::Error> {
    let last_seq: i64 = row.try_get("last_seq")?;
    let head_seq: i64 = row.try_get("head_seq")?;
    let heads: i64 = row.try_get("heads")?;
    Ok(ChainId {
        seq: last_seq as u64,
        heads: if head_seq == last_seq {
            heads as u32
        } else {
            0
        },
    })
}

fn room_from_row(row: &AnyRow) -> Result<RoomRow, sqlx::Error> {
    let owner: String = row.try_get("owner_id")?;
    let last_seq: i64 = row.try_get("last_seq")?;
    Ok(RoomRow {
        id: row.try_get("id")?,
        room: Room {
            slug: row.try_get("slug")?,
            title: row.try_get("title")?,
            private: row.try_get::<i64, _>("private")? != 0,
        },
        owner_id: Uuid::parse_str(&owner).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        last_seq: last_seq as u64,
        chain: chain_from_row(row)?,
    })
}

// `private` is a BOOLEAN in both schemas, but sqlx's `Any` driver cannot decode SQLite's
// booleans: read it as an integer everywhere.
const ROOM_COLUMNS: &str =
    "id, slug, title, CAST(private AS INTEGER) AS private, owner_id, last_seq, head_seq, heads";

impl Store {
    /// Creates a room owned by `owner`, who is also its first member; one transaction, so a
    /// failure leaves neither row behind. [`StoreError::Conflict`] when the slug is taken.
    pub async fn create_room(&self, room: &Room, owner: Uuid) -> Result<RoomRow, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO rooms (slug, title, private, owner_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {ROOM_COLUMNS}"
        ))
        .bind(&room.slug)
        .bind(&room.title)
        .bind(room.private)
        .bind(owner.to_string())
        .bind(now_millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_insert)?;
        let created = room_from_row(&row)?;
        sqlx::query("INSERT INTO room_members (room_id, user_id) VALUES ($1, $2)")
            .bind(created.id)
            .bind(owner.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn room_by_slug(&self, slug: &str) -> Result<Option<RoomRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(room_from_row).transpose()?)
    }

    /// Moves the room's chain one head on, as one statement (the row lock orders it with posts,
    /// across origins too); returns the new tail, `None` for a room that is gone.
    pub async fn announce_head(&self, room_id: i64) -> Result<Option<ChainId>, StoreError> {
        let row = sqlx::query(
            "UPDATE rooms SET \
               heads = CASE WHEN head_seq = last_seq THEN heads + 1 ELSE 1 END, \
               head_seq = last_seq \
             WHERE id = $1 RETURNING last_seq, head_seq, heads",
        )
        .bind(room_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(chain_from_row).transpose()?)
    }

    /// Rooms whose newest message is younger than `since` (Unix milliseconds): the ones whose
    /// subscribers might still miss it after the origin that stored it crashed.
    pub async fn rooms_active_since(&self, since: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT rooms.id, rooms.slug FROM rooms \
             JOIN messages ON messages.room_id = rooms.id AND messages.seq = rooms.last_seq \
             WHERE messages.sent_at >= $1",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("slug")?)))
            .collect()
    }

    /// Up to `limit` of the public rooms and the private rooms `user` belongs to, by slug,
    /// after `after`.
    pub async fn rooms_visible_to(
        &self,
        user: Uuid,
        after: &str,
        limit: u32,
    ) -> Result<Vec<Room>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ROOM_COLUMNS} FROM rooms \
             WHERE (private = $1 OR id IN (SELECT room_id FROM room_members WHERE user_id = $2)) \
               AND slug > $3 \
             ORDER BY slug LIMIT $4"
        ))
        .bind(false)
        .bind(user.to_string())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok(room_from_row(row)?.room))
            .collect()
    }

    /// Whether `user` may read and post in the room: anyone for a public room, members otherwise.
    pub async fn may_access(&self, room: &RoomRow, user: Uuid) -> Result<bool, StoreError> {
        if !room.room.private {
            return Ok(true);
        }
        let row = sqlx::query("SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.id)
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Removes a member; whether they were one.
    pub async fn remove_member(&self, room: &RoomRow, user: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.id)
            .bind(user.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds a member; adding someone twice is not an error.
    pub async fn add_member(&self, room: &RoomRow, user: Uuid) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO room_members (room_id, user_id) VALUES ($1, $2) \
             ON CONFLICT (room_id, user_id) DO NOTHING",
        )
        .bind(room.id)
        .bind(user.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
