//! Who is asking: argon2 password hashes, the session JWT (cookie or Bearer) of a session the
//! server can end, and the [`CurrentUser`] extractor that every signed-in route takes.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, SameSite};
use shared::api::User;
use shared::session::{
    COOKIE_NAME, SECURE_COOKIE_NAME, SESSION_TTL_SECS, SessionClaims, SessionKeys,
};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::limits::Limits;
use crate::state::AppState;
use crate::store::Store;

/// Issues and checks session tokens (HS256, keyed by `SESSION_SECRET`); the rules are
/// [`SessionKeys`]', shared with the edge.
#[derive(Clone)]
pub struct Sessions {
    keys: SessionKeys,
    /// Over HTTPS the cookie is `Secure` and named `__Host-session`.
    secure: bool,
}

impl Sessions {
    pub fn new(secret: &[u8], secure: bool) -> Sessions {
        Sessions {
            keys: SessionKeys::new(secret),
            secure,
        }
    }

    /// Starts a session for `user` (a row the server can end) and returns its token.
    pub async fn start(&self, store: &Store, user: &User) -> ApiResult<String> {
        let now = unix_now();
        let sid = store.start_session(user.id, now + SESSION_TTL_SECS).await?;
        self.keys
            .issue(user, sid, now)
            .map_err(|e| ApiError::Internal(e.into()))
    }

    /// The claims of a valid, unexpired token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<SessionClaims> {
        self.keys.verify(token)
    }

    /// The `Set-Cookie` that signs a browser in.
    pub fn cookie(&self, token: String) -> Cookie<'static> {
        let name = if self.secure {
            SECURE_COOKIE_NAME
        } else {
            COOKIE_NAME
        };
        Cookie::build((name, token))
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(time::Duration::seconds(SESSION_TTL_SECS as i64))
            .build()
    }

    /// The `Set-Cookie` that signs a browser out.
    pub fn removal_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.cookie(String::new());
        cookie.make_removal();
        cookie
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A signed-in request: who, in which session, until when.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub sid: Uuid,
    /// When the token expires (Unix seconds).
    pub expires: u64,
}

/// The signed-in user: from the session cookie (browsers) or `Authorization: Bearer` (scripts,
/// tests). Rejects with 401 when neither holds a valid token of a live session, or when they
/// disagree.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, &parts.headers)
            .await
            .map(|session| CurrentUser(session.user))
    }
}

/// The same, with the session ([`Session`]) for routes that act on it.
#[derive(Debug, Clone)]
pub struct CurrentSession(pub Session);

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, &parts.headers)
            .await
            .map(CurrentSession)
    }
}

/// Whether the request carries session credentials at all, valid or not.
pub fn has_credentials(headers: &HeaderMap) -> bool {
    !matches!(session_token(headers), Ok(None))
}

/// The session token a request carries, if any (the rule lives in `shared`, so the edge applies
/// the same one); an error when a cookie and a Bearer token disagree.
fn session_token(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    shared::session::token_from(value(COOKIE), value(AUTHORIZATION))
        .map(|token| token.map(str::to_owned))
        .map_err(|_| ApiError::ConflictingCredentials)
}

/// The session whose valid token the headers carry, if it has not ended; 401 otherwise.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Session> {
    let token = session_token(headers)?.ok_or(ApiError::Unauthenticated)?;
    let claims = state
        .auth
        .sessions
        .verify(&token)
        .ok_or(ApiError::Unauthenticated)?;
    if state.store.live_session(claims.sid).await? != Some(claims.sub) {
        return Err(ApiError::SessionEnded);
    }
    Ok(Session {
        user: User {
            id: claims.sub,
            name: claims.name,
        },
        sid: claims.sid,
        expires: claims.exp,
    })
}

/// Hashes a password with argon2id and a random salt (off the async threads: it is slow on
/// purpose), at most as many at once as `limits` allows.
pub async fn hash_password(limits: &Limits, password: String) -> Result<String, ApiError> {
    let _turn = limits.hashing().acquire_owned().await;
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

/// Whether `password` matches `hash` (or the dummy hash when there is no user), at most as many
/// checks at once as `limits` allows.
pub async fn verify_password(
    limits: &Limits,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    let _turn = limits.hashing().acquire_owned().await;
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
