//! The session cookie and the claims of the session token it carries.
//!
//! The token is an HS256 JWT issued by the origin. Its claims, and with the `jwt` feature the
//! keys that issue and check it, live here so the edge verifies the very same token, by the
//! very same rules, without calling the origin.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Name of the cookie that holds the session token over HTTPS. The `__Host-` prefix makes the
/// browser accept it only with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot
/// plant or overwrite it.
pub const SECURE_COOKIE_NAME: &str = "__Host-session";

/// Its name on plain-HTTP localhost (development), where `__Host-` cookies cannot be set.
pub const COOKIE_NAME: &str = "session";

/// Claims of the session JWT (HS256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user's id.
    pub sub: Uuid,
    /// The user's name, so handlers need no lookup to label a message.
    pub name: String,
    /// The session this token belongs to: the origin refuses the token once it has ended
    /// (signed out), whatever its expiry says.
    pub sid: Uuid,
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

    /// A token for `user` in session `sid`, valid from `now` (Unix seconds) for
    /// [`SESSION_TTL_SECS`].
    pub fn issue(
        &self,
        user: &crate::api::User,
        sid: Uuid,
        now: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = SessionClaims {
            sub: user.id,
            name: user.name.clone(),
            sid,
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

/// Why a request's credentials cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// A cookie and a Bearer token that are not the same token: one of them is not the
    /// caller's, and guessing which would be wrong half the time.
    #[error("the session cookie and the Authorization header disagree")]
    Conflicting,
}

/// The session token a request carries: the session cookie (browsers; `__Host-session` or, on
/// plain-HTTP localhost, `session`) or an `Authorization: Bearer` token (scripts). Both present
/// must be the same token. Takes the raw header values so that the edge (Compute) and the origin
/// (Axum) read requests by the same rule.
pub fn token_from<'a>(
    cookie: Option<&'a str>,
    authorization: Option<&'a str>,
) -> Result<Option<&'a str>, CredentialsError> {
    let from_cookie = cookie.and_then(|header| {
        header.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            let name = name.trim();
            let ours = name == SECURE_COOKIE_NAME || name == COOKIE_NAME;
            (ours && !value.trim().is_empty()).then(|| value.trim())
        })
    });
    let from_header = authorization.and_then(|header| {
        let (scheme, token) = header.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    });
    match (from_cookie, from_header) {
        (Some(cookie), Some(bearer)) if cookie != bearer => Err(CredentialsError::Conflicting),
        (cookie, bearer) => Ok(cookie.or(bearer)),
    }
}

/// The channel of one session: every stream a signed-in client opens joins it, whatever it
/// follows, so that signing out (or out everywhere) can end them at once.
pub fn session_channel(sid: &Uuid) -> String {
    format!("{SESSION_CHANNEL_PREFIX}{sid}")
}

/// The session whose channel `channel` is, if it is one.
pub fn session_of_channel(channel: &str) -> Option<Uuid> {
    channel
        .strip_prefix(SESSION_CHANNEL_PREFIX)
        .and_then(|sid| Uuid::parse_str(sid).ok())
}

const SESSION_CHANNEL_PREFIX: &str = "session-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_channel_names_its_session() {
        let sid = Uuid::from_u128(7);
        assert_eq!(session_of_channel(&session_channel(&sid)), Some(sid));
        assert_eq!(session_of_channel("room-lobby"), None);
        assert_eq!(session_of_channel("session-not-a-uuid"), None);
    }
}
