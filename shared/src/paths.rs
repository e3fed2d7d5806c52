//! Every path of the HTTP API, written once: the origin's router registers these templates, the
//! edge asks [`stream`] which requests to authenticate and hand to Fanout, and the frontend and
//! the test client build their URLs from them. A fork that adds a stream adds it to [`STREAMS`]
//! and the edge hands it off with no change of its own.

use crate::subscription::Transport;

/// A path template: fixed segments and `{name}` placeholders, in Axum's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route(&'static str);

impl Route {
    pub const fn new(template: &'static str) -> Route {
        Route(template)
    }

    /// The template, for the router.
    pub const fn template(self) -> &'static str {
        self.0
    }

    /// The path with `params` in place of the placeholders, in order. Params are slugs and
    /// names, which validation keeps to URL-safe characters.
    pub fn to(self, params: &[&str]) -> String {
        let mut params = params.iter();
        let path: Vec<&str> = self
            .0
            .split('/')
            .map(|segment| match is_placeholder(segment) {
                true => params.next().copied().unwrap_or(segment),
                false => segment,
            })
            .collect();
        debug_assert!(params.next().is_none(), "more params than placeholders");
        path.join("/")
    }

    /// Whether `path` is an instance of the template: the same segments, each placeholder a
    /// non-empty segment.
    pub fn matches(self, path: &str) -> bool {
        let mut template = self.0.split('/');
        let mut given = path.split('/');
        loop {
            match (template.next(), given.next()) {
                (None, None) => return true,
                (Some(t), Some(g)) if is_placeholder(t) && !g.is_empty() => {}
                (Some(t), Some(g)) if t == g => {}
                _ => return false,
            }
        }
    }
}

fn is_placeholder(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// Where every API path starts: answers under it are JSON, private and never cached.
pub const API: &str = "/api";

/// The origin's health check (through Pushpin, for readiness).
pub const HEALTHZ: Route = Route::new("/healthz");
/// Counters for operators; the edge answers 404 for it.
pub const METRICS: Route = Route::new("/metrics");

pub const REGISTER: Route = Route::new("/api/auth/register");
pub const LOGIN: Route = Route::new("/api/auth/login");
pub const TOKEN: Route = Route::new("/api/auth/token");
pub const LOGOUT: Route = Route::new("/api/auth/logout");
pub const LOGOUT_EVERYWHERE: Route = Route::new("/api/auth/logout-everywhere");
pub const ME: Route = Route::new("/api/me");

pub const ROOMS: Route = Route::new("/api/rooms");
pub const ROOM: Route = Route::new("/api/rooms/{slug}");
pub const ROOM_MEMBERS: Route = Route::new("/api/rooms/{slug}/members");
pub const ROOM_MEMBER: Route = Route::new("/api/rooms/{slug}/members/{name}");
pub const ROOM_MESSAGES: Route = Route::new("/api/rooms/{slug}/messages");
pub const ROOM_MESSAGE: Route = Route::new("/api/rooms/{slug}/messages/{seq}");
/// `PUT`: a heartbeat of one device; `DELETE`: the device left.
pub const ROOM_PRESENCE: Route = Route::new("/api/rooms/{slug}/presence/{device}");
pub const ROOM_TYPING: Route = Route::new("/api/rooms/{slug}/typing");
/// `GET ?q=WORDS&before=SEQ&limit=N`: a page of the room's messages that have every word.
pub const ROOM_SEARCH: Route = Route::new("/api/rooms/{slug}/search");
/// `PUT {"seq": N}`: the caller has read the room up to message N.
pub const ROOM_READ: Route = Route::new("/api/rooms/{slug}/read");
/// The caller's room-list activity (`shared::chat::Activity`), as Server-Sent Events only: a
/// room list is open in a browser, which has `EventSource`.
pub const ACTIVITY: Route = Route::new("/api/activity");

/// A room's streams.
pub const ROOM_STREAMS: Streams = Streams {
    events: Route::new("/api/rooms/{slug}/events"),
    ws: Route::new("/api/rooms/{slug}/ws"),
    poll: Route::new("/api/rooms/{slug}/poll"),
};

/// A dashboard's history (`?before=SEQ&limit=N`, like a room's messages).
pub const DASHBOARD_SAMPLES: Route = Route::new("/api/dashboards/{name}/samples");

/// A dashboard's streams.
pub const DASHBOARD_STREAMS: Streams = Streams {
    events: Route::new("/api/dashboards/{name}/events"),
    ws: Route::new("/api/dashboards/{name}/ws"),
    poll: Route::new("/api/dashboards/{name}/poll"),
};

/// Every stream path: the edge checks the session on these and hands them to Fanout.
pub const STREAMS: &[Streams] = &[ROOM_STREAMS, DASHBOARD_STREAMS];

/// The three ways to follow one kind of channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    /// Server-Sent Events.
    pub events: Route,
    /// WebSocket (over HTTP, between Fanout and the origin).
    pub ws: Route,
    /// Long-polling (`?after=SEQ`).
    pub poll: Route,
}

impl Streams {
    pub fn route(&self, transport: Transport) -> Route {
        match transport {
            Transport::EventSource => self.events,
            Transport::WebSocket => self.ws,
            Transport::LongPoll => self.poll,
        }
    }
}

/// Which transport a request path streams over, if it is a stream path (no query string).
pub fn stream(path: &str) -> Option<Transport> {
    if ACTIVITY.matches(path) {
        return Some(Transport::EventSource);
    }
    STREAMS.iter().find_map(|streams| {
        Transport::ALL
            .into_iter()
            .find(|&transport| streams.route(transport).matches(path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fill_and_match() {
        assert_eq!(
            ROOM_MEMBER.to(&["lobby", "ann"]),
            "/api/rooms/lobby/members/ann"
        );
        assert!(ROOM.matches("/api/rooms/lobby"));
        assert!(!ROOM.matches("/api/rooms/"));
        assert!(!ROOM.matches("/api/rooms/lobby/messages"));
        assert!(ME.matches("/api/me") && !ME.matches("/api/me/"));
    }

    #[test]
    fn stream_paths_are_recognised_and_nothing_else() {
        assert_eq!(
            stream("/api/rooms/lobby/events"),
            Some(Transport::EventSource)
        );
        assert_eq!(stream("/api/rooms/lobby/ws"), Some(Transport::WebSocket));
        assert_eq!(stream("/api/activity"), Some(Transport::EventSource));
        assert_eq!(
            stream("/api/dashboards/system/poll"),
            Some(Transport::LongPoll)
        );
        for other in [
            "/api/rooms/lobby/messages",
            "/api/rooms//events",
            "/api/rooms/lobby/events/more",
            "/api/rooms/events",
            "/events",
            "/api/rooms/lobby/events/",
        ] {
            assert_eq!(stream(other), None, "{other}");
        }
    }
}
