//! The chat **edge**: the first hop of every request, on Fastly Compute (locally, Viceroy).
//!
//! ```text
//! client ─▶ edge ─┬─ stream path + valid session ─▶ handoff_fanout("origin") ─▶ Fanout ─▶ origin
//!                 ├─ stream path, no valid session ─▶ 401 here: Fanout and the origin never see it
//!                 └─ anything else ─▶ forwarded to the origin backend
//! ```
//!
//! This file is the decision, plain Rust tested on the host; `compute` is the thin Compute glue
//! that prepares the request, asks [`decide`], and acts (tested inside Viceroy). The session rules (cookie or Bearer,
//! HS256, expiry) are `shared::session`'s, the same the origin applies.

use shared::api::ErrorBody;
use shared::session::{SessionKeys, token_from};

#[cfg(target_arch = "wasm32")]
pub mod compute;

/// What the edge does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// A stream with a valid session: hand the connection to Fanout.
    Handoff,
    /// Not a stream: forward to the origin as a plain request.
    Forward,
    /// Answer here and stop.
    Reject { status: u16, body: String },
}

/// The stream endpoints: the paths Fanout must hold.
pub fn is_stream_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/rooms/") else {
        return false;
    };
    match rest.split_once('/') {
        Some((slug, endpoint)) => !slug.is_empty() && matches!(endpoint, "events" | "ws" | "poll"),
        None => false,
    }
}

/// Decides from the path and the two headers that can carry a session. `keys` is `None` when
/// the edge has no secret configured: streams are then refused rather than let through.
pub fn decide(
    path: &str,
    cookie: Option<&str>,
    authorization: Option<&str>,
    keys: Option<&SessionKeys>,
) -> Decision {
    if !is_stream_path(path) {
        return Decision::Forward;
    }
    let Some(keys) = keys else {
        return reject(
            503,
            "unavailable",
            "the edge has no session secret configured",
        );
    };
    match token_from(cookie, authorization).map(|token| keys.verify(token)) {
        Some(Some(_claims)) => Decision::Handoff,
        Some(None) => reject(
            401,
            "unauthenticated",
            "the session is invalid or expired; sign in again",
        ),
        None => reject(401, "unauthenticated", "sign in first"),
    }
}

fn reject(status: u16, code: &str, message: &str) -> Decision {
    let body = serde_json::to_string(&ErrorBody::new(code, message)).expect("serialises");
    Decision::Reject { status, body }
}

/// Headers only the edge (or Fanout behind it) may set; a client's copies are removed before
/// the request goes on, so nobody can pose as the proxy or forge where a request came from.
pub const EDGE_ONLY_HEADERS: &[&str] = &[
    "grip-sig",
    "grip-last",
    "pushpin-route",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use shared::api::User;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// A session token for "ann", signed with `secret`, issued `seconds_ago`.
    pub(crate) fn token_issued(secret: &[u8], seconds_ago: u64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let user = User {
            id: uuid::Uuid::from_u128(1),
            name: "ann".into(),
        };
        SessionKeys::new(secret)
            .issue(&user, now - seconds_ago)
            .unwrap()
    }

    fn status(decision: Decision) -> u16 {
        match decision {
            Decision::Reject { status, body } => {
                assert!(body.contains("\"error\""), "{body}");
                status
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn stream_paths_are_exactly_the_three_endpoints() {
        for path in [
            "/api/rooms/lobby/events",
            "/api/rooms/lobby/ws",
            "/api/rooms/x/poll",
        ] {
            assert!(is_stream_path(path), "{path}");
        }
        for path in [
            "/api/rooms/lobby/messages",
            "/api/rooms/lobby",
            "/api/rooms//events",
            "/api/rooms/lobby/events/more",
            "/events",
            "/",
        ] {
            assert!(!is_stream_path(path), "{path}");
        }
    }

    #[test]
    fn a_valid_session_is_handed_to_fanout() {
        let keys = SessionKeys::new(SECRET);
        let token = token_issued(SECRET, 0);
        let cookie = format!("theme=dark; session={token}");
        let bearer = format!("Bearer {token}");
        let path = "/api/rooms/lobby/events";
        assert_eq!(
            decide(path, Some(&cookie), None, Some(&keys)),
            Decision::Handoff
        );
        assert_eq!(
            decide(path, None, Some(&bearer), Some(&keys)),
            Decision::Handoff
        );
    }

    #[test]
    fn missing_forged_expired_and_unsigned_sessions_stop_here() {
        let keys = SessionKeys::new(SECRET);
        let path = "/api/rooms/lobby/ws";
        let forged = format!(
            "Bearer {}",
            token_issued(b"some other secret of 32 bytes...", 0)
        );
        let expired = format!("Bearer {}", token_issued(SECRET, 30 * 24 * 3600));
        let good = token_issued(SECRET, 0);
        let payload = good.split('.').nth(1).unwrap();
        let unsigned = format!("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(status(decide(path, None, None, Some(&keys))), 401);
        for header in [forged, expired, unsigned, "Bearer nonsense".into()] {
            assert_eq!(
                status(decide(path, None, Some(&header), Some(&keys))),
                401,
                "{header}"
            );
        }
        let bearer = format!("Bearer {good}");
        assert_eq!(
            status(decide(path, None, Some(&bearer), None)),
            503,
            "no secret, no entry"
        );
    }

    #[test]
    fn everything_else_goes_to_the_origin_untouched_by_auth() {
        let keys = SessionKeys::new(SECRET);
        for path in [
            "/",
            "/api/auth/login",
            "/api/rooms",
            "/api/rooms/lobby/messages",
        ] {
            assert_eq!(
                decide(path, None, None, Some(&keys)),
                Decision::Forward,
                "{path}"
            );
        }
    }
}
