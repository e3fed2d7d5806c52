//! Rooms and who may read a private one.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::channels::{CHANNEL_COLUMNS, Channel, channel_from_row};
use super::reads::{unread_columns, unread_from_row};
use super::{Store, StoreError, now_millis};
use shared::api::Room;
use shared::chat::room_channel;

/// A room as stored: the public [`Room`], its owner, and the channel its messages go to.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomRow {
    pub id: i64,
    pub room: Room,
    pub owner_id: Uuid,
    pub channel: Channel,
}

fn room_from_row(row: &AnyRow) -> Result<RoomRow, sqlx::Error> {
    let owner: String = row.try_get("owner_id")?;
    Ok(RoomRow {
        id: row.try_get("id")?,
        room: Room {
            slug: row.try_get("slug")?,
            title: row.try_get("title")?,
            private: row.try_get::<i64, _>("private")? != 0,
            unread: None,
        },
        owner_id: Uuid::parse_str(&owner).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        channel: channel_from_row(row)?,
    })
}

/// A page of the rooms user `$2` may see (public: `$1` is false), by slug after `$3`, at most
/// `$4`.
const VISIBLE_PAGE: &str = "(rooms.private = $1 OR rooms.id IN \
       (SELECT room_id FROM room_members WHERE user_id = $2)) \
     AND rooms.slug > $3 ORDER BY rooms.slug LIMIT $4";

/// A room and its channel. `private` is a BOOLEAN in both schemas, but sqlx's `Any` driver
/// cannot decode SQLite's booleans: read it as an integer everywhere.
fn room_query(condition: &str) -> String {
    format!(
        "SELECT rooms.id, rooms.slug, rooms.title, CAST(rooms.private AS INTEGER) AS private, \
           rooms.owner_id, {CHANNEL_COLUMNS} \
         FROM rooms JOIN channels ON channels.id = rooms.channel_id WHERE {condition}"
    )
}

impl Store {
    /// Creates a room owned by `owner`, who is also its first member, with its channel; one
    /// transaction, so a failure leaves no row behind. [`StoreError::Conflict`] when the slug
    /// is taken.
    pub async fn create_room(&self, room: &Room, owner: Uuid) -> Result<RoomRow, StoreError> {
        let mut tx = self.writer.begin().await?;
        let channel = Store::create_channel_in(&mut tx, &room_channel(&room.slug)).await?;
        let row = sqlx::query(
            "INSERT INTO rooms (slug, title, private, owner_id, created_at, channel_id) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&room.slug)
        .bind(&room.title)
        .bind(room.private)
        .bind(owner.to_string())
        .bind(now_millis())
        .bind(channel.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_insert)?;
        let id: i64 = row.try_get("id")?;
        sqlx::query("INSERT INTO room_members (room_id, user_id) VALUES ($1, $2)")
            .bind(id)
            .bind(owner.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RoomRow {
            id,
            room: room.clone(),
            owner_id: owner,
            channel,
        })
    }

    pub async fn room_by_slug(&self, slug: &str) -> Result<Option<RoomRow>, StoreError> {
        let row = sqlx::query(&room_query("rooms.slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(room_from_row).transpose()?)
    }

    /// The room, if it exists and `user` may read and post in it (anyone in a public room,
    /// members in a private one): one query.
    pub async fn room_for(&self, slug: &str, user: Uuid) -> Result<Option<RoomRow>, StoreError> {
        let row = sqlx::query(&room_query(
            "rooms.slug = $1 AND (rooms.private = $2 OR EXISTS \
               (SELECT 1 FROM room_members WHERE room_id = rooms.id AND user_id = $3))",
        ))
        .bind(slug)
        .bind(false)
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(room_from_row).transpose()?)
    }

    /// Up to `limit` of the public rooms and the private rooms `user` belongs to, by slug,
    /// after `after`.
    pub async fn rooms_visible_to(
        &self,
        user: Uuid,
        after: &str,
        limit: u32,
    ) -> Result<Vec<Room>, StoreError> {
        let rows = sqlx::query(&room_query(VISIBLE_PAGE))
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

    /// [`Store::rooms_visible_to`] for the room list: each room with `reader`'s (id, name)
    /// unread count.
    pub async fn rooms_with_unread(
        &self,
        reader: (Uuid, &str),
        after: &str,
        limit: u32,
    ) -> Result<Vec<Room>, StoreError> {
        let sql = format!(
            "SELECT rooms.id, rooms.slug, rooms.title, CAST(rooms.private AS INTEGER) AS private, \
               rooms.owner_id, {CHANNEL_COLUMNS}, {unread} \
             FROM rooms JOIN channels ON channels.id = rooms.channel_id \
             LEFT JOIN reads ON reads.room_id = rooms.id AND reads.user_id = $2 \
             WHERE {VISIBLE_PAGE}",
            unread = unread_columns(self.backend, "$5"),
        );
        let rows = sqlx::query(&sql)
            .bind(false)
            .bind(reader.0.to_string())
            .bind(after)
            .bind(i64::from(limit))
            .bind(reader.1)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let found = room_from_row(row)?;
                let unread = unread_from_row(row, found.channel.last_seq)?;
                Ok(Room {
                    unread: Some(unread),
                    ..found.room
                })
            })
            .collect()
    }

    /// Removes a member; whether they were one.
    pub async fn remove_member(&self, room: &RoomRow, user: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.id)
            .bind(user.to_string())
            .execute(&self.writer)
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
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
