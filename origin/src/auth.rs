//! Who is asking: argon2 password hashes, the session JWT (cookie or Bearer), and the
//! [`CurrentUser`] extractor that every signed-in route takes.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, SameSite};
use shared::api::User;
use shared::session::{COOKIE_NAME, SESSION_TTL_SECS, SessionClaims, SessionKeys};

use crate::app::AppState;
use crate::error::ApiError;

/// Issues and checks session tokens (HS256, keyed by `SESSION_SECRET`); the rules are
/// [`SessionKeys`]', shared with the edge.
#[derive(Clone)]
pub struct Sessions {
    keys: SessionKeys,
}

impl Sessions {
    pub fn new(secret: &[u8]) -> Sessions {
        Sessions {
            keys: SessionKeys::new(secret),
        }
    }

    pub fn issue(&self, user: &User) -> Result<String, ApiError> {
        self.keys
            .issue(user, unix_now())
            .map_err(|e| ApiError::Internal(e.into()))
    }

    /// The claims of a valid, unexpired token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<SessionClaims> {
        self.keys.verify(token)
    }

    /// The `Set-Cookie` that signs a browser in.
    pub fn cookie(token: String) -> Cookie<'static> {
        Cookie::build((COOKIE_NAME, token))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(time::Duration::seconds(SESSION_TTL_SECS as i64))
            .build()
    }

    /// The `Set-Cookie` that signs a browser out.
    pub fn removal_cookie() -> Cookie<'static> {
        let mut cookie = Self::cookie(String::new());
        cookie.make_removal();
        cookie
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The signed-in user: from the `session` cookie (browsers) or `Authorization: Bearer`
/// (scripts, tests). Rejects with 401 when neither holds a valid token.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

/// The session token a request carries, if any (cookie first; the rule lives in `shared` so
/// the edge applies the same one).
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    shared::session::token_from(value(COOKIE), value(AUTHORIZATION)).map(str::to_owned)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        user_from_headers(state, &parts.headers).map(CurrentUser)
    }
}

/// The user whose valid session token the headers carry; 401 otherwise.
pub fn user_from_headers(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    let claims = session_token(headers)
        .and_then(|token| state.sessions.verify(&token))
        .ok_or(ApiError::Unauthenticated)?;
    Ok(User {
        id: claims.sub,
        name: claims.name,
    })
}

/// Hashes a password with argon2id and a random salt (off the async threads: it is slow on purpose).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing password: {e}")))
}

/// A valid hash of a password nobody has: checking against it when the name is unknown makes
/// "no such user" take as long as "wrong password", so timing does not reveal which names exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::encode_b64(b"not-a-real-salt!").expect("static salt is valid");
    Argon2::default()
        .hash_password(b"not the password", &salt)
        .expect("hashing a constant")
        .to_string()
});

/// Whether `password` matches `hash` (or the dummy hash when there is no user).
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored hash unreadable: {e}")))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && ok)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
}
