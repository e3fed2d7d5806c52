//! Accounts: a unique name and an argon2 hash of the password.

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Store, StoreError, now_millis};
use shared::api::User;

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
            "INSERT INTO users (id, name, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(password_hash)
        .bind(now_millis())
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_insert)?;
        Ok(User {
            id,
            name: name.to_owned(),
        })
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, password_hash FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }
}
