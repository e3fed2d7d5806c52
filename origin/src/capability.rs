//! Next-link capabilities: the origin-signed token in a `Grip-Link` URL that lets the proxy fetch
//! a stream's missed messages on its own, and the session mark that says whose stream it is.
//!
//! When Fanout detects a gap (or refreshes a stream), it fetches the stream's next link
//! *directly from the origin*, without the user's cookie. So the fetch must prove two things:
//! - **what** it may read: the link carries a capability signed with a key derived from
//!   `SESSION_SECRET` for one channel, one transport (`sse` or `poll`) and one position
//!   (`after`), so it cannot open the channel's whole history, another channel, or another kind
//!   of stream. It names no user, and it expires on a ten-minute grid: every stream of a room at
//!   one position gets the *same* link, which Pushpin needs to refresh streams in groups (its
//!   refreshes run at 10 a second, up to 100 streams each when their next links are equal; one
//!   link per session made a crowd of new streams wait minutes: docs/BENCHMARKS.md, *Fan-out*).
//! - **whose** stream it is: every stream joins its session's channel with a `prev-id` that is
//!   a mark only the origin can make (an HMAC of the session id), and Pushpin sends each
//!   channel's `prev-id` back in `Grip-Last` on every fetch. The origin checks the mark, that
//!   the session is live and that its user may still follow the channel, and ends the stream
//!   otherwise.
//!
//! The session's `Grip-Last` also keeps answers apart: Pushpin shares one origin request among
//! fetches under way with the same path and the same `Grip-Last` headers, whatever the query
//! (`auto-share`), so with only the room's `Grip-Last` two members' fetches could share one
//! answer (`e2e/tests/security.rs::streams_recovering_together_keep_their_own_session`).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::unix_now;

/// Links expire on a grid of this many seconds, between one and two steps ahead: links issued
/// within one step are equal (and so shared); Fanout refreshes each stream every next-link
/// timeout (minutes), and each refresh issues a new one.
const EXPIRY_STEP_SECS: u64 = 600;
const AUDIENCE: &str = "next-link";
/// What a session mark signs, before the session id: nothing else the key signs starts so.
const MARK_PREFIX: &str = "session-mark:";

/// What a capability allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    /// The Fanout channel (`room-lobby`).
    pub channel: String,
    /// The transport's key (`sse` or `poll`).
    pub path: String,
    /// The position the link continues from.
    pub after: u64,
    /// The session, on the links between the pages of a stream's first replay: those fetches
    /// come before the stream holds, so before it has a session channel whose `Grip-Last` could
    /// say whose it is. Such a link is one session's own; a held stream's names nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
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

    /// A capability for `capability`, the same for every call within one expiry step.
    pub fn issue(&self, capability: Capability) -> String {
        let claims = Claims {
            exp: (unix_now() / EXPIRY_STEP_SECS + 2) * EXPIRY_STEP_SECS,
            capability,
            aud: AUDIENCE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail")
    }

    /// The `prev-id` a stream of session `sid` gives its session channel: proof, when Pushpin
    /// sends it back in `Grip-Last`, that the origin put the stream in that session.
    pub fn session_mark(&self, sid: &Uuid) -> String {
        jsonwebtoken::crypto::sign(
            format!("{MARK_PREFIX}{sid}").as_bytes(),
            &self.encoding,
            Algorithm::HS256,
        )
        .expect("HS256 signing does not fail")
    }

    /// Whether `mark` is [`Capabilities::session_mark`] of `sid`.
    pub fn check_session_mark(&self, sid: &Uuid, mark: &str) -> bool {
        jsonwebtoken::crypto::verify(
            mark,
            format!("{MARK_PREFIX}{sid}").as_bytes(),
            &self.decoding,
            Algorithm::HS256,
        )
        .unwrap_or(false)
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

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn capability(channel: &str, after: u64) -> Capability {
        Capability {
            channel: channel.into(),
            path: "sse".into(),
            after,
            sid: None,
        }
    }

    #[test]
    fn a_capability_opens_its_channel_transport_and_position_only() {
        let caps = Capabilities::new(SECRET);
        let cap = caps.issue(capability("lobby", 7));
        assert_eq!(
            caps.check(&cap, "lobby", "sse"),
            Some(capability("lobby", 7))
        );
        assert_eq!(caps.check(&cap, "other", "sse"), None);
        assert_eq!(caps.check(&cap, "lobby", "poll"), None);
        let page = Capability {
            sid: Some(Uuid::from_u128(9)),
            ..capability("lobby", 7)
        };
        assert_eq!(
            caps.check(&caps.issue(page.clone()), "lobby", "sse"),
            Some(page)
        );
    }

    #[test]
    fn streams_at_one_position_share_one_link() {
        let caps = Capabilities::new(SECRET);
        assert_eq!(
            caps.issue(capability("lobby", 7)),
            caps.issue(capability("lobby", 7))
        );
        assert_ne!(
            caps.issue(capability("lobby", 7)),
            caps.issue(capability("lobby", 8))
        );
    }

    #[test]
    fn an_expired_capability_is_refused() {
        let caps = Capabilities::new(SECRET);
        let claims = Claims {
            capability: capability("lobby", 7),
            aud: AUDIENCE.to_owned(),
            exp: unix_now() - 1,
        };
        let expired =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &caps.encoding).unwrap();
        assert_eq!(caps.check(&expired, "lobby", "sse"), None);
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let caps = Capabilities::new(SECRET);
        let other = Capabilities::new(b"another secret of at least 32 bytes!");
        let foreign = other.issue(capability("lobby", 0));
        assert_eq!(caps.check(&foreign, "lobby", "sse"), None);
        assert_eq!(caps.check("not.a.jwt", "lobby", "sse"), None);
        // A token signed with the session secret itself is not a capability.
        let session = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({
                "channel": "lobby", "path": "sse", "after": 0,
                "aud": "next-link", "exp": unix_now() + 60,
            }),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(caps.check(&session, "lobby", "sse"), None);
    }

    #[test]
    fn a_session_mark_names_one_session_and_only_this_origin_makes_it() {
        let caps = Capabilities::new(SECRET);
        let other = Capabilities::new(b"another secret of at least 32 bytes!");
        let (ann, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mark = caps.session_mark(&ann);
        assert!(caps.check_session_mark(&ann, &mark));
        assert!(!caps.check_session_mark(&bob, &mark));
        assert!(!caps.check_session_mark(&ann, &other.session_mark(&ann)));
        assert!(!caps.check_session_mark(&ann, "forged"));
    }
}
