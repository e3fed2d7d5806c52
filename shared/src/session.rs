//! The session cookie and the claims of the session token it carries.
//!
//! The token is an HS256 JWT issued by the origin. Its claims, and with the `jwt` feature the
//! keys that issue and check it, live here so the edge verifies the very same token, by the
//! very same rules, without calling the origin.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Name of the cookie that holds the session token.
pub const COOKIE_NAME: &str = "session";

/// Claims of the session JWT (HS256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user's id.
    pub sub: Uuid,
    /// The user's name, so handlers need no lookup to label a message.
    pub name: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
}

/// How long a session token is valid.
pub const SESSION_TTL_SECS: u64 = 7 * 24 * 3600;

/// Issues and checks session tokens with the shared secret (`SESSION_SECRET`).
#[cfg(feature = "jwt")]
#[derive(Clone)]
pub struct SessionKeys {
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

#[cfg(feature = "jwt")]
impl SessionKeys {
    pub fn new(secret: &[u8]) -> SessionKeys {
        // HS256 only: a token that names another algorithm (`none` included) is refused.
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        SessionKeys {
            encoding: jsonwebtoken::EncodingKey::from_secret(secret),
            decoding: jsonwebtoken::DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for `user`, valid from `now` (Unix seconds) for [`SESSION_TTL_SECS`].
    pub fn issue(
        &self,
        user: &crate::api::User,
        now: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = SessionClaims {
            sub: user.id,
            name: user.name.clone(),
            iat: now,
            exp: now + SESSION_TTL_SECS,
        };
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    /// The claims of a valid, unexpired token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<SessionClaims> {
        jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// The session token a request carries: the `session` cookie (browsers), else an
/// `Authorization: Bearer` token (scripts). Takes the raw header values so the edge (Compute)
/// and the origin (Axum) read requests by the same rule.
pub fn token_from<'a>(cookie: Option<&'a str>, authorization: Option<&'a str>) -> Option<&'a str> {
    let from_cookie = cookie.and_then(|header| {
        header.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name.trim() == COOKIE_NAME && !value.trim().is_empty()).then(|| value.trim())
        })
    });
    from_cookie.or_else(|| {
        let (scheme, token) = authorization?.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    })
}
