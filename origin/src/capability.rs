//! Next-link capabilities: the origin-signed token in a `Grip-Link` URL that lets the proxy fetch
//! one stream's missed messages on its own.
//!
//! When Fanout detects a gap (or refreshes a stream), it fetches the stream's next link
//! *directly from the origin*, without the user's cookie. The link therefore carries its own
//! authority, signed with a key derived from `SESSION_SECRET`, and as little of it as possible:
//! - one channel, one transport (`sse` or `poll`) and one position (`after`): it cannot open
//!   the channel's whole history, another channel, or another kind of stream;
//! - the session it was issued in, and its user: each refresh checks that the session is live and
//!   that the user may still follow the channel, and ends the stream otherwise;
//! - an expiry no later than the session's, so a link cannot outlive it by renewing itself.
//!
//! The capability is the link's last path segment (`…/events/{cap}?after=N`), never a query
//! parameter: Pushpin shares one origin request among fetches with the same path and `Grip-Last`
//! whatever the query, so a capability in the query would let one session's answer reach
//! another's stream (`channel::stream::StreamPath`). The price: each stream's recovery is its
//! own origin request.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::unix_now;

/// Links live at most this long; Fanout refreshes them every next-link timeout (minutes), and
/// each refresh issues a new one.
const LIFETIME_SECS: u64 = 1200;
const AUDIENCE: &str = "next-link";

/// What a capability allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    /// The Fanout channel (`room-lobby`).
    pub channel: String,
    /// The transport's key (`sse` or `poll`).
    pub path: String,
    /// The position the link continues from.
    pub after: u64,
    /// The user and the session the stream was opened in, and when that session expires.
    pub sub: Uuid,
    pub sid: Uuid,
    pub session_expires: u64,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    #[serde(flatten)]
    capability: Capability,
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

    /// A capability for `capability`, expiring with its session or sooner.
    pub fn issue(&self, capability: Capability) -> String {
        let claims = Claims {
            exp: capability.session_expires.min(unix_now() + LIFETIME_SECS),
            capability,
            aud: AUDIENCE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail")
    }

    /// What a valid, unexpired `token` allows, if it is for `channel` over `path`.
    pub fn check(&self, token: &str, channel: &str, path: &str) -> Option<Capability> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let capability = claims.capability;
        (capability.channel == channel && capability.path == path).then_some(capability)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capability(channel: &str, after: u64) -> Capability {
        Capability {
            channel: channel.into(),
            path: "sse".into(),
            after,
            sub: Uuid::from_u128(1),
            sid: Uuid::from_u128(2),
            session_expires: unix_now() + 60,
        }
    }

    #[test]
    fn a_capability_opens_its_channel_transport_and_position_only() {
        let caps = Capabilities::new(b"0123456789abcdef0123456789abcdef");
        let cap = caps.issue(capability("lobby", 7));
        assert_eq!(
            caps.check(&cap, "lobby", "sse"),
            Some(capability("lobby", 7))
        );
        assert_eq!(caps.check(&cap, "other", "sse"), None);
        assert_eq!(caps.check(&cap, "lobby", "poll"), None);
    }

    #[test]
    fn a_capability_dies_with_its_session() {
        let caps = Capabilities::new(b"0123456789abcdef0123456789abcdef");
        let ended = Capability {
            session_expires: unix_now() - 1,
            ..capability("lobby", 7)
        };
        let expired = caps.issue(ended);
        assert_eq!(caps.check(&expired, "lobby", "sse"), None);
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let caps = Capabilities::new(b"0123456789abcdef0123456789abcdef");
        let other = Capabilities::new(b"another secret of at least 32 bytes!");
        let foreign = other.issue(capability("lobby", 0));
        assert_eq!(caps.check(&foreign, "lobby", "sse"), None);
        assert_eq!(caps.check("not.a.jwt", "lobby", "sse"), None);
        // A token signed with the session secret itself is not a capability.
        let session = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({
                "channel": "lobby", "path": "sse", "after": 0,
                "sub": Uuid::nil(), "sid": Uuid::nil(), "session_expires": unix_now() + 60,
                "aud": "next-link", "exp": unix_now() + 60,
            }),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(caps.check(&session, "lobby", "sse"), None);
    }
}
