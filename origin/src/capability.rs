//! Next-link capabilities: the origin-signed token in a `Grip-Link` URL that lets the proxy fetch
//! a room's missed messages on its own.
//!
//! When Fanout detects a gap (a publish whose `prev-id` it has not seen), it fetches the stream's
//! next link *directly from the origin*, without the user's cookie. The link therefore carries
//! its own authority: "read room X until time T", signed with a key derived from
//! `SESSION_SECRET`. It names the room, not the user, and its expiry is rounded to a window, so
//! every subscriber of a room gets the same link and Fanout can share one origin request among
//! all of them.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::unix_now;

/// Links are valid for one to two windows; Fanout refreshes them every link timeout (minutes).
const WINDOW_SECS: u64 = 600;
const AUDIENCE: &str = "next-link";

#[derive(Serialize, Deserialize)]
struct CapabilityClaims {
    room: String,
    aud: String,
    exp: u64,
}

#[derive(Clone)]
pub struct Capabilities {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Capabilities {
    pub fn new(session_secret: &[u8]) -> Capabilities {
        // A key of its own, so a session token can never pass as a capability or vice versa.
        let key = [session_secret, b":next-link"].concat();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        validation.leeway = 0;
        Capabilities {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
        }
    }

    /// The capability for `room`, identical for every call within one window.
    pub fn issue(&self, room: &str) -> String {
        let exp = (unix_now() / WINDOW_SECS + 2) * WINDOW_SECS;
        let claims = CapabilityClaims {
            room: room.to_owned(),
            aud: AUDIENCE.to_owned(),
            exp,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail")
    }

    /// Whether `token` is a valid, unexpired capability for `room`.
    pub fn allows(&self, token: &str, room: &str) -> bool {
        jsonwebtoken::decode::<CapabilityClaims>(token, &self.decoding, &self.validation)
            .is_ok_and(|data| data.claims.room == room)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capability_opens_its_room_only() {
        let caps = Capabilities::new(b"0123456789abcdef0123456789abcdef");
        let cap = caps.issue("lobby");
        assert!(caps.allows(&cap, "lobby"));
        assert!(!caps.allows(&cap, "other"));
        assert_eq!(cap, caps.issue("lobby"), "same window, same link");
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let caps = Capabilities::new(b"0123456789abcdef0123456789abcdef");
        let other = Capabilities::new(b"another secret of at least 32 bytes!");
        assert!(!caps.allows(&other.issue("lobby"), "lobby"));
        assert!(!caps.allows("not.a.jwt", "lobby"));
        // A session token signed with the session secret itself is not a capability.
        let session = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"room": "lobby", "aud": "next-link", "exp": unix_now() + 60}),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(!caps.allows(&session, "lobby"));
    }
}
