//! The three ways to follow a room, each answered with GRIP instructions for the proxy:
//! Server-Sent Events (`events`), WebSocket-over-HTTP (`ws`) and long-polling (`poll`).
//!
//! All three are reached only through the proxy (`ViaGrip`), start with a replay from the
//! subscriber's cursor, and join the room's channel, where `publish` sends every new message,
//! plus the channels that end the stream when its session or membership ends (`revoke`).

pub mod events;
pub mod poll;
pub mod ws;

use axum::http::HeaderMap;
use serde::Deserialize;
use shared::api::VIA_EDGE_HEADER;
use shared::message::{member_channel, room_channel, session_channel};
use shared::publish::ChainId;
use uuid::Uuid;

use crate::access;
use crate::app::AppState;
use crate::auth::{authenticate, has_credentials};
use crate::capability::Capability;
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

/// Who follows which room, on whose authority.
#[derive(Debug)]
pub struct Access {
    pub room: RoomRow,
    pub user: Uuid,
    pub sid: Uuid,
    pub session_expires: u64,
    /// Set when the request is the proxy's own fetch of a next link.
    pub link: Option<Capability>,
}

impl Access {
    /// The channels a stream joins: the room's, whose `prev-id` is the chain link `position`
    /// (`None`: no position, a WebSocket), its session's, and in a private room its member's.
    pub fn channels(&self, position: Option<ChainId>) -> Vec<(String, Option<String>)> {
        let mut channels = vec![
            (
                room_channel(&self.room.room.slug),
                position.map(|p| p.to_string()),
            ),
            (session_channel(&self.sid), None),
        ];
        if self.room.room.private {
            channels.push((member_channel(&self.room.room.slug, &self.user), None));
        }
        channels
    }

    /// [`Access::channels`] as a `Grip-Channel` value.
    pub fn grip_channel(&self, position: ChainId) -> String {
        self.channels(Some(position))
            .iter()
            .map(|(name, prev)| shared::grip::channel(name, prev.as_deref()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The next link for this stream at `position`: a `Grip-Link` value whose capability
    /// allows exactly this room, endpoint and position, within this session.
    pub fn next_link(&self, state: &AppState, path: &str, position: u64) -> String {
        let slug = &self.room.room.slug;
        let cap = state.capabilities.issue(Capability {
            room: slug.clone(),
            path: path.to_owned(),
            after: position,
            sub: self.user,
            sid: self.sid,
            session_expires: self.session_expires,
        });
        shared::grip::link_next(
            &format!("/api/rooms/{slug}/{path}?after={position}&cap={cap}"),
            Some(NEXT_LINK_TIMEOUT_SECS),
        )
    }
}

/// Who may follow room `slug` on `path` (`events` or `poll`): a client by its session and the
/// room's membership; the proxy, fetching a next link, by the link's capability, as long as the
/// session behind it is live and its user may still read the room.
async fn authorize(
    state: &AppState,
    slug: &str,
    path: &str,
    headers: &HeaderMap,
    query: &StreamQuery,
) -> ApiResult<Access> {
    let Some(cap) = &query.cap else {
        let session = authenticate(state, headers).await?;
        let room = access::readable_room(state, slug, &session.user).await?;
        return Ok(Access {
            room,
            user: session.user.id,
            sid: session.sid,
            session_expires: session.expires,
            link: None,
        });
    };
    // Capabilities are for the proxy's own fetches, which carry no session and do not come
    // through the edge: anything else holding one found it somewhere (a log, a URL).
    if has_credentials(headers) || headers.contains_key(VIA_EDGE_HEADER) {
        return Err(ApiError::BadCapability);
    }
    let link = state
        .capabilities
        .check(cap, slug, path)
        .ok_or(ApiError::BadCapability)?;
    // The link continues from its own position, never from an earlier one.
    let after = query.after.as_deref().map(parse_cursor).transpose()?;
    let last = grip_last(headers, &room_channel(slug))?;
    if after != Some(link.after) || last.is_some_and(|last| last < link.after) {
        return Err(ApiError::BadCapability);
    }
    if !state.store.session_is_live(link.sid, link.sub).await? {
        return Err(ApiError::SessionEnded);
    }
    let room = access::room(state, slug).await?;
    if !state.store.may_access(&room, link.sub).await? {
        return Err(ApiError::NotFound("room"));
    }
    Ok(Access {
        room,
        user: link.sub,
        sid: link.sid,
        session_expires: link.session_expires,
        link: Some(link),
    })
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

/// How often the proxy refreshes a held stream through its next link even without a gap.
const NEXT_LINK_TIMEOUT_SECS: u32 = 120;
