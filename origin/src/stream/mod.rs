//! The three ways to follow a room, each answered with GRIP instructions for the proxy:
//! Server-Sent Events (`events`), WebSocket-over-HTTP (`ws`) and long-polling (`poll`).
//!
//! All three are reached only through the proxy (`ViaGrip`), start with a replay from the
//! subscriber's cursor, and join the room's channel, where `publish` sends every new message.

pub mod events;
pub mod poll;
pub mod ws;

use axum::http::HeaderMap;
use serde::Deserialize;
use shared::message::room_channel;

use crate::access;
use crate::app::AppState;
use crate::auth::user_from_headers;
use crate::error::{ApiError, ApiResult};
use crate::replay::{grip_last, parse_cursor};
use crate::store::RoomRow;

/// Query parameters of the stream endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    /// The last seq the client has, for clients that cannot send a `Last-Event-ID` header.
    pub last_event_id: Option<String>,
    /// The cursor of long-polls and of next links.
    pub after: Option<String>,
    /// A next link's capability (see `capability`): present only on the proxy's own fetches.
    pub cap: Option<String>,
}

/// The room a stream request may follow: a next-link fetch by its capability (the proxy sends
/// no user credentials), anyone else by their session and the room's membership.
async fn authorize(
    state: &AppState,
    slug: &str,
    headers: &HeaderMap,
    query: &StreamQuery,
) -> ApiResult<RoomRow> {
    match &query.cap {
        Some(cap) if state.capabilities.allows(cap, slug) => access::room(state, slug).await,
        Some(_) => Err(ApiError::BadCapability),
        None => {
            let user = user_from_headers(state, headers)?;
            access::readable_room(state, slug, &user).await
        }
    }
}

/// Where the subscriber stands. The proxy's next-link fetch says it in `Grip-Last` (or the
/// link's own `after`); a client in `Last-Event-ID` (browsers resend it on reconnect), or in
/// the query. `None` is a first visit.
fn cursor(headers: &HeaderMap, query: &StreamQuery, slug: &str) -> ApiResult<Option<u64>> {
    let non_empty = |v: &str| !v.trim().is_empty();
    if query.cap.is_some() {
        if let Some(last) = grip_last(headers, &room_channel(slug))? {
            return Ok(Some(last));
        }
    } else if let Some(id) = headers.get("last-event-id") {
        let id = id
            .to_str()
            .map_err(|_| ApiError::BadCursor("Last-Event-ID".into()))?;
        if non_empty(id) {
            return parse_cursor(id).map(Some);
        }
    } else if let Some(id) = query.last_event_id.as_deref().filter(|v| non_empty(v)) {
        return parse_cursor(id).map(Some);
    }
    query
        .after
        .as_deref()
        .filter(|v| non_empty(v))
        .map(parse_cursor)
        .transpose()
}

/// The next link for a room stream at `position`: `Grip-Link` value for the proxy.
fn next_link(state: &AppState, path: &str, slug: &str, position: u64) -> String {
    let cap = state.capabilities.issue(slug);
    shared::grip::link_next(
        &format!("/api/rooms/{slug}/{path}?after={position}&cap={cap}"),
        Some(NEXT_LINK_TIMEOUT_SECS),
    )
}

/// How often the proxy refreshes a held stream through its next link even without a gap.
const NEXT_LINK_TIMEOUT_SECS: u32 = 120;
