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

use shared::api::{ErrorBody, ErrorCode};
use shared::paths;
use shared::session::{SessionKeys, token_from};
use shared::subscription::Transport;

#[cfg(target_arch = "wasm32")]
pub mod compute;

/// What the edge does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// A stream with a valid session: hand the connection to Fanout.
    Handoff,
    /// Not a stream: forward to the origin as a plain request. `pass`: never from or into the
    /// edge's cache (every API answer is someone's private data); otherwise the origin's
    /// `Cache-Control` decides (hashed assets are cached for a year, pages revalidate).
    Forward { pass: bool },
    /// Answer here and stop.
    Reject { status: u16, body: String },
}

/// The parts of a request the decision reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// `scheme://host` the client used (`https://chat.example`), to tell same-origin requests.
    pub own_origin: &'a str,
    pub origin: Option<&'a str>,
    pub cookie: Option<&'a str>,
    pub authorization: Option<&'a str>,
}

/// What the edge knows besides the request: the session keys (`None` when no secret is
/// configured: streams are then refused rather than let through) and the other origins whose
/// pages may write to the API (besides the edge's own).
#[derive(Default)]
pub struct EdgeConfig {
    pub keys: Option<SessionKeys>,
    pub allowed_origins: Vec<String>,
}

/// The stream endpoints, the paths Fanout must hold: every one `shared::paths::STREAMS` lists,
/// and the room list's activity stream (`shared::paths::stream`), so a stream a fork adds there
/// is authenticated and handed off here without a change.
pub fn is_stream_path(path: &str) -> bool {
    paths::stream(path).is_some()
}

/// Paths for operators, answered by the origin only to whoever reaches it directly (a
/// monitoring network), never through the edge.
const OPERATOR_PATHS: &[paths::Route] = &[paths::METRICS];

/// Decides what to do with a request.
pub fn decide(request: &Incoming<'_>, config: &EdgeConfig) -> Decision {
    if OPERATOR_PATHS
        .iter()
        .any(|route| route.matches(request.path))
    {
        return reject(404, ErrorCode::NoRoute, "no route for this path");
    }
    if writes(request) && !origin_allowed(request, config) {
        return reject(
            403,
            ErrorCode::BadOrigin,
            "requests that change something must come from this site's own pages",
        );
    }
    if !is_stream_path(request.path) {
        return Decision::Forward {
            pass: request.path.starts_with(&format!("{}/", paths::API)),
        };
    }
    let Some(keys) = &config.keys else {
        return reject(
            503,
            ErrorCode::Unavailable,
            "the edge has no session secret configured",
        );
    };
    match token_from(request.cookie, request.authorization) {
        Err(conflict) => reject(401, ErrorCode::Unauthenticated, &conflict.to_string()),
        Ok(Some(token)) if keys.verify(token).is_some() => Decision::Handoff,
        Ok(Some(_)) => reject(
            401,
            ErrorCode::Unauthenticated,
            "the session is invalid or expired; sign in again",
        ),
        Ok(None) => reject(401, ErrorCode::Unauthenticated, "sign in first"),
    }
}

/// Whether a browser could use the request to act as its user: anything but a read, and the
/// WebSocket handshake (a read by method, but a socket that sends as the user).
fn writes(request: &Incoming<'_>) -> bool {
    !matches!(request.method, "GET" | "HEAD" | "OPTIONS")
        || paths::stream(request.path) == Some(Transport::WebSocket)
}

/// Cross-site request forgery stops here: a browser names the page's origin in `Origin` on
/// every write and every WebSocket handshake, and only this site's pages (or the configured
/// ones) may write. A request without `Origin` does not come from a browser page.
pub fn origin_allowed(request: &Incoming<'_>, config: &EdgeConfig) -> bool {
    request.origin.is_none_or(|origin| {
        origin == request.own_origin || config.allowed_origins.iter().any(|o| o == origin)
    })
}

fn reject(status: u16, code: ErrorCode, message: &str) -> Decision {
    let body = serde_json::to_string(&ErrorBody::new(code, message)).expect("serialises");
    Decision::Reject { status, body }
}

/// `Strict-Transport-Security` for answers over HTTPS: browsers then never try plain HTTP for
/// this host again (two years, as the HSTS preload list asks).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Headers only the edge (or Fanout behind it) may set; a client's copies are removed before
/// the request goes on, so nobody can pose as the proxy or forge where a request came from.
pub const EDGE_ONLY_HEADERS: &[&str] = &[
    "grip-sig",
    "grip-last",
    "pushpin-route",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    VIA_EDGE,
];

/// Set on every request the edge passes on (see `shared::api::VIA_EDGE_HEADER`).
pub use shared::api::VIA_EDGE_HEADER as VIA_EDGE;

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
            .issue(&user, uuid::Uuid::from_u128(2), now - seconds_ago)
            .unwrap()
    }

    fn config() -> EdgeConfig {
        EdgeConfig {
            keys: Some(SessionKeys::new(SECRET)),
            allowed_origins: vec!["https://app.chat.example".into()],
        }
    }

    fn get(path: &str) -> Incoming<'_> {
        Incoming {
            method: "GET",
            path,
            own_origin: "https://chat.example",
            ..Incoming::default()
        }
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
    fn stream_paths_are_exactly_the_stream_endpoints() {
        for path in [
            "/api/rooms/lobby/events",
            "/api/rooms/lobby/ws",
            "/api/rooms/x/poll",
            "/api/activity",
        ] {
            assert!(is_stream_path(path), "{path}");
        }
        for path in [
            "/api/rooms/lobby/messages",
            "/api/rooms/lobby",
            "/api/rooms//events",
            "/api/rooms/lobby/events/more",
            "/api/rooms/lobby/search",
            "/api/activity/more",
            "/events",
            "/",
        ] {
            assert!(!is_stream_path(path), "{path}");
        }
    }

    #[test]
    fn a_valid_session_is_handed_to_fanout() {
        let token = token_issued(SECRET, 0);
        let cookie = format!("theme=dark; session={token}");
        let bearer = format!("Bearer {token}");
        let path = "/api/rooms/lobby/events";
        let with_cookie = Incoming {
            cookie: Some(&cookie),
            ..get(path)
        };
        assert_eq!(decide(&with_cookie, &config()), Decision::Handoff);
        let with_bearer = Incoming {
            authorization: Some(&bearer),
            ..get(path)
        };
        assert_eq!(decide(&with_bearer, &config()), Decision::Handoff);
    }

    #[test]
    fn missing_forged_expired_unsigned_and_conflicting_sessions_stop_here() {
        let path = "/api/rooms/lobby/ws";
        let forged = format!(
            "Bearer {}",
            token_issued(b"some other secret of 32 bytes...", 0)
        );
        let expired = format!("Bearer {}", token_issued(SECRET, 30 * 24 * 3600));
        let good = token_issued(SECRET, 0);
        let payload = good.split('.').nth(1).unwrap();
        let unsigned = format!("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(status(decide(&get(path), &config())), 401);
        for header in [forged, expired, unsigned, "Bearer nonsense".into()] {
            let request = Incoming {
                authorization: Some(&header),
                ..get(path)
            };
            assert_eq!(status(decide(&request, &config())), 401, "{header}");
        }
        // A good cookie does not make a bad Bearer token acceptable, nor the other way round.
        let cookie = format!("session={good}");
        let other = format!("Bearer {}", token_issued(SECRET, 1));
        let conflicting = Incoming {
            cookie: Some(&cookie),
            authorization: Some(&other),
            ..get(path)
        };
        assert_eq!(status(decide(&conflicting, &config())), 401);
        let bearer = format!("Bearer {good}");
        let without_secret = Incoming {
            authorization: Some(&bearer),
            ..get(path)
        };
        assert_eq!(
            status(decide(&without_secret, &EdgeConfig::default())),
            503,
            "no secret, no entry"
        );
    }

    #[test]
    fn api_answers_bypass_the_cache_and_the_app_does_not() {
        for path in [
            "/api/me",
            "/api/rooms",
            "/api/rooms/lobby/messages",
            "/api/auth/login",
        ] {
            assert_eq!(
                decide(&get(path), &config()),
                Decision::Forward { pass: true },
                "{path}"
            );
        }
        for path in ["/", "/rooms/lobby", "/frontend-0123abcd.js", "/healthz"] {
            assert_eq!(
                decide(&get(path), &config()),
                Decision::Forward { pass: false },
                "{path}"
            );
        }
    }

    #[test]
    fn operator_paths_are_not_served_through_the_edge() {
        assert_eq!(status(decide(&get("/metrics"), &config())), 404);
    }

    #[test]
    fn writes_and_websockets_from_other_sites_are_refused() {
        let post = |origin| Incoming {
            method: "POST",
            origin,
            ..get("/api/auth/logout")
        };
        let ws = |origin| Incoming {
            origin,
            ..get("/api/rooms/lobby/ws")
        };
        for forged in ["https://evil.example", "https://sub.chat.example", "null"] {
            assert_eq!(
                status(decide(&post(Some(forged)), &config())),
                403,
                "{forged}"
            );
            assert_eq!(
                status(decide(&ws(Some(forged)), &config())),
                403,
                "{forged}"
            );
        }
        for fine in [
            None,
            Some("https://chat.example"),
            Some("https://app.chat.example"),
        ] {
            assert_eq!(
                decide(&post(fine), &config()),
                Decision::Forward { pass: true },
                "{fine:?}"
            );
        }
        // A read from anywhere is fine: it changes nothing, and CORS keeps its answer from
        // other sites' scripts.
        let read = Incoming {
            origin: Some("https://evil.example"),
            ..get("/api/rooms")
        };
        assert_eq!(decide(&read, &config()), Decision::Forward { pass: true });
    }
}
