//! Presence: one row per device of a user in a room, refreshed by heartbeats. A user is online
//! in a room while one of their devices has been seen within the TTL the caller passes.
//!
//! Joins and leaves are decided here, in the database, so that any number of origins agree:
//! the heartbeat that finds no live device of its user is the join; the statement that deletes
//! a user's last live device is the leave. Two origins may both announce one (a race between
//! two tabs); the signal is idempotent, so the cost is one extra event.

use sqlx::Row;
use uuid::Uuid;

use super::{Store, StoreError};

/// What a heartbeat found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The user had no live device in the room before this one: they just came online.
    pub joined: bool,
    /// Who is online in the room now, by name, sorted.
    pub online: Vec<String>,
}

/// A user who went offline in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    pub slug: String,
    pub user: String,
}

impl Store {
    /// Records a heartbeat of `device` at `now` (Unix ms); devices seen since `live_since` are
    /// online.
    pub async fn heartbeat(
        &self,
        channel_id: i64,
        user: (Uuid, &str),
        device: &str,
        now: i64,
        live_since: i64,
    ) -> Result<Heartbeat, StoreError> {
        let (user_id, user_name) = user;
        let mut tx = self.begin_read_write().await?;
        let was_online =
            Self::has_live_device(&mut tx, channel_id, &user_id.to_string(), live_since).await?;
        sqlx::query(
            "INSERT INTO presence (channel_id, user_id, user_name, device, seen_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (channel_id, user_id, device) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(channel_id)
        .bind(user_id.to_string())
        .bind(user_name)
        .bind(device)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let online = Self::online_in(&mut tx, channel_id, live_since).await?;
        tx.commit().await?;
        Ok(Heartbeat {
            joined: !was_online,
            online,
        })
    }

    /// Forgets `device`; whether its user went offline with it (no other live device).
    pub async fn leave(
        &self,
        channel_id: i64,
        user_id: Uuid,
        device: &str,
        live_since: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM presence WHERE channel_id = $1 AND user_id = $2 AND device = $3 \
             AND seen_at >= $4",
        )
        .bind(channel_id)
        .bind(user_id.to_string())
        .bind(device)
        .bind(live_since)
        .execute(&mut *tx)
        .await?;
        let gone = deleted.rows_affected() == 1
            && !Self::has_live_device(&mut tx, channel_id, &user_id.to_string(), live_since)
                .await?;
        tx.commit().await?;
        Ok(gone)
    }

    /// Forgets every device not seen since `live_since`; the users who went offline with them.
    /// Each row is deleted by one statement only, so with several origins sweeping, each leave
    /// is found by one of them.
    pub async fn expire_presence(&self, live_since: i64) -> Result<Vec<Gone>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(
            "DELETE FROM presence WHERE seen_at < $1 RETURNING channel_id, user_id, user_name",
        )
        .bind(live_since)
        .fetch_all(&mut *tx)
        .await?;
        let mut expired = Vec::new();
        for row in &rows {
            let key: (i64, String, String) = (
                row.try_get("channel_id")?,
                row.try_get("user_id")?,
                row.try_get("user_name")?,
            );
            if !expired.contains(&key) {
                expired.push(key);
            }
        }
        let mut gone = Vec::new();
        for (channel_id, user_id, user) in expired {
            if Self::has_live_device(&mut tx, channel_id, &user_id, live_since).await? {
                continue;
            }
            let slug = sqlx::query("SELECT slug FROM rooms WHERE channel_id = $1")
                .bind(channel_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = slug {
                gone.push(Gone {
                    slug: row.try_get("slug")?,
                    user,
                });
            }
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// Who is online in the channel: names of users with a device seen since `live_since`.
    pub async fn online(
        &self,
        channel_id: i64,
        live_since: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let online = Self::online_in(&mut tx, channel_id, live_since).await?;
        tx.commit().await?;
        Ok(online)
    }

    async fn online_in(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        channel_id: i64,
        live_since: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT user_name FROM presence WHERE channel_id = $1 AND seen_at >= $2 \
             ORDER BY user_name",
        )
        .bind(channel_id)
        .bind(live_since)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get("user_name"))
            .collect::<Result<_, _>>()?)
    }

    async fn has_live_device(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        channel_id: i64,
        user_id: &str,
        live_since: i64,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT device FROM presence \
             WHERE channel_id = $1 AND user_id = $2 AND seen_at >= $3 LIMIT 1",
        )
        .bind(channel_id)
        .bind(user_id)
        .bind(live_since)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.is_some())
    }
}
