//! Accounts (a name unique whatever its case, an argon2 hash of the password) and their sessions.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Store, StoreError, now_millis};
use shared::api::{User, name_key};

/// A user as stored, with the password hash that never leaves the origin.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub user: User,
    pub password_hash: String,
}

fn user_from_row(row: &AnyRow) -> Result<UserRow, sqlx::Error> {
    let id: String = row.try_get("id")?;
    Ok(UserRow {
        user: User {
            id: Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            name: row.try_get("name")?,
        },
        password_hash: row.try_get("password_hash")?,
    })
}

impl Store {
    /// Creates a user; [`StoreError::Conflict`] when the name is taken.
    pub async fn create_user(&self, name: &str, password_hash: &str) -> Result<User, StoreError> {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO users (id, name, name_key, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(name_key(name))
        .bind(password_hash)
        .bind(now_millis())
        .execute(&self.writer)
        .await
        .map_err(StoreError::from_insert)?;
        Ok(User {
            id,
            name: name.to_owned(),
        })
    }

    /// The user with this name, in any case (`ANN` finds `ann`).
    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, password_hash FROM users WHERE name_key = $1")
            .bind(name_key(name))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// Starts a session for `user` that lasts until `expires_at` (Unix seconds); returns its id.
    pub async fn start_session(&self, user: Uuid, expires_at: u64) -> Result<Uuid, StoreError> {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(now_millis())
        .bind(expires_at as i64)
        .execute(&self.writer)
        .await?;
        Ok(id)
    }

    /// The user of session `id`, if the session has not been ended and has not expired
    /// (`expires_at` is in Unix seconds, like the session token's `exp`).
    pub async fn live_session(&self, id: Uuid) -> Result<Option<Uuid>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id FROM sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > $2",
        )
        .bind(id.to_string())
        .bind(now_millis() / 1000)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let user: String = row.try_get("user_id")?;
            Uuid::parse_str(&user)
                .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
        })
        .transpose()
    }

    /// Ends one session (signing out); ending it twice is not an error.
    pub async fn end_session(&self, id: Uuid) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL")
            .bind(id.to_string())
            .bind(now_millis())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Ends every live session of `user` ("sign out everywhere"); returns their ids.
    pub async fn end_sessions_of(&self, user: Uuid) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "UPDATE sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL \
             RETURNING id",
        )
        .bind(user.to_string())
        .bind(now_millis())
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                Uuid::parse_str(&id)
                    .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
            })
            .collect()
    }
}
