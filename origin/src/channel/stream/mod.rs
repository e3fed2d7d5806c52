//! The three ways to follow a channel, each answered with GRIP instructions for the proxy:
//! Server-Sent Events (`events`), WebSocket-over-HTTP (`ws`) and long-polling (`poll`), for any
//! kind of channel ([`Feed`]).
//!
//! All three are reached only through the proxy (the `Grip-Sig` layer of [`routes`]), start with
//! a replay from the subscriber's cursor, and join the channel, where `publish` sends every new
//! entry, plus the channels that end the stream when its session or access ends (`revoke`).

pub mod events;
pub mod poll;
pub mod ws;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware;
use axum::routing::{any, get};
use serde::Deserialize;
use shared::api::VIA_EDGE_HEADER;
use shared::paths::Route;
use shared::publish::ChainId;
use shared::session::session_channel;
use shared::subscription::Transport;
use uuid::Uuid;

use super::replay::{grip_last, grip_last_session, parse_cursor};
use super::{Feed, Target};
use crate::auth::{authenticate, has_credentials};
use crate::capability::{Capabilities, Capability};
use crate::error::{ApiError, ApiResult};
use crate::extract::PathOf;
use crate::grip::{GripVerifier, Subscribe, require_grip};
use crate::state::AppState;

/// Largest WebSocket-over-HTTP request: the proxy may batch several client frames in one.
const MAX_WS_EVENTS_BYTES: usize = 1024 * 1024;

/// How often the proxy refreshes a held stream through its next link even without a gap.
const NEXT_LINK_TIMEOUT_SECS: u32 = 120;

/// The stream routes of one kind of channel, each behind the `Grip-Sig` check. SSE and
/// long-poll streams also answer their next links: the stream's path plus the link's
/// capability as one more segment ([`StreamPath`]).
pub fn routes<F: Feed>(grip: &GripVerifier) -> Router<AppState> {
    Router::new()
        .route(F::STREAMS.events.template(), get(events::events::<F>))
        .route(&link_template(F::STREAMS.events), get(events::events::<F>))
        .route(F::STREAMS.poll.template(), get(poll::poll::<F>))
        .route(&link_template(F::STREAMS.poll), get(poll::poll::<F>))
        .route(
            F::STREAMS.ws.template(),
            // `any`: a client that tries a plain WebSocket upgrade here is told it must come
            // through the proxy, rather than getting a bare 405.
            any(ws::ws::<F>).layer(DefaultBodyLimit::max(MAX_WS_EVENTS_BYTES)),
        )
        .route_layer(middleware::from_fn_with_state(grip.clone(), require_grip))
}

/// A next link's path: the stream's own, then its capability (`…/events/{cap}?after=N`).
///
/// Pushpin merges next-link fetches under way with the same path and the same `Grip-Last`
/// headers into one origin request, whatever their query (`auto-share`): what keeps two
/// sessions' fetches apart is the session channel's `Grip-Last` (see `capability`), not where
/// the capability sits. It sits in the path so that a link is one opaque URL per position.
fn link_template(stream: Route) -> String {
    format!("{}/{{cap}}", stream.template())
}

/// The path of a stream request: the channel's key and, when the proxy fetches a next link,
/// the link's capability (see `capability`).
#[derive(Debug)]
pub struct StreamPath {
    pub key: String,
    pub cap: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for StreamPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // By name, since feeds name their key differently (`{slug}`, `{name}`).
        let PathOf(mut params) =
            PathOf::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        let cap = params.remove("cap");
        let key = params
            .into_values()
            .next()
            .ok_or_else(|| ApiError::BadQuery("no channel in the path".into()))?;
        Ok(StreamPath { key, cap })
    }
}

/// Query parameters of the stream endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    /// The last seq the client has, for clients that cannot send a `Last-Event-ID` header.
    pub last_event_id: Option<String>,
    /// The cursor of long-polls and of next links.
    pub after: Option<String>,
}

/// Who follows which channel, on whose authority.
#[derive(Debug)]
pub struct Access {
    pub target: Target,
    pub sid: Uuid,
}

impl Access {
    /// What makes the stream live at chain link `position` (`None`: no position, a WebSocket):
    /// the channel itself with `position` as its `prev-id`, its session's channel (with the
    /// session's mark as its `prev-id` when there is a position, and so a next link), its
    /// signals' channel, and the channels that end it.
    pub fn subscribe(&self, capabilities: &Capabilities, position: Option<ChainId>) -> Subscribe {
        let mark = position.map(|_| capabilities.session_mark(&self.sid));
        let mut channels = vec![
            (
                self.target.channel.name.clone(),
                position.map(|p| p.to_string()),
            ),
            (session_channel(&self.sid), mark),
        ];
        channels.extend(self.target.signals.iter().map(|c| (c.clone(), None)));
        channels.extend(self.target.ends_with.iter().map(|c| (c.clone(), None)));
        Subscribe {
            channels,
            next_link: None,
        }
    }

    /// The next link of a held stream at `position`: a `Grip-Link` value whose capability
    /// allows exactly this channel, transport and position; the same for every stream there.
    pub fn next_link<F: Feed>(
        &self,
        state: &AppState,
        key: &str,
        transport: Transport,
        position: u64,
    ) -> String {
        self.link::<F>(state, key, transport, position, None)
    }

    /// The link to the next page of this stream's first replay: like [`Access::next_link`],
    /// but this session's own (see [`Capability::sid`]).
    pub fn next_page_link<F: Feed>(
        &self,
        state: &AppState,
        key: &str,
        transport: Transport,
        position: u64,
    ) -> String {
        self.link::<F>(state, key, transport, position, Some(self.sid))
    }

    fn link<F: Feed>(
        &self,
        state: &AppState,
        key: &str,
        transport: Transport,
        position: u64,
        sid: Option<Uuid>,
    ) -> String {
        let cap = state.auth.capabilities.issue(Capability {
            channel: self.target.channel.name.clone(),
            path: transport.key().to_owned(),
            after: position,
            sid,
        });
        let path = F::STREAMS.route(transport).to(&[key]);
        shared::grip::link_next(
            &format!("{path}/{cap}?after={position}"),
            Some(NEXT_LINK_TIMEOUT_SECS),
        )
    }
}

/// Who may follow `key` over `transport`: a client by its session and the feed's access rule;
/// the proxy, fetching a next link, by the link's capability and the session mark its
/// `Grip-Last` carries, as long as that session is live and its user may still follow the
/// channel.
async fn authorize<F: Feed>(
    state: &AppState,
    path: &StreamPath,
    transport: Transport,
    headers: &HeaderMap,
    query: &StreamQuery,
) -> ApiResult<Access> {
    let key = &path.key;
    F::validate_key(key)?;
    let capabilities = &state.auth.capabilities;
    let Some(cap) = &path.cap else {
        let session = authenticate(state, headers).await?;
        let target = F::open(state, key, session.user.id).await?;
        return Ok(Access {
            target,
            sid: session.sid,
        });
    };
    // Capabilities are for the proxy's own fetches, which carry no session and do not come
    // through the edge: anything else holding one found it somewhere (a log, a URL).
    if has_credentials(headers) || headers.contains_key(VIA_EDGE_HEADER) {
        return Err(ApiError::BadCapability);
    }
    let link = capabilities
        .check(cap, &F::channel(key), transport.key())
        .ok_or(ApiError::BadCapability)?;
    // The link continues from its own position, never from an earlier one.
    let after = query.after.as_deref().map(parse_cursor).transpose()?;
    let last = grip_last(headers, &link.channel)?;
    if after != Some(link.after) || last.is_some_and(|last| last < link.after) {
        return Err(ApiError::BadCapability);
    }
    // Whose stream: a page link names its session; a held stream's fetch says it in the session
    // channel's `Grip-Last`, with the mark only this origin makes.
    let sid = match link.sid {
        Some(sid) => sid,
        None => {
            let (sid, mark) = grip_last_session(headers)?.ok_or(ApiError::BadCapability)?;
            if !capabilities.check_session_mark(&sid, &mark) {
                return Err(ApiError::BadCapability);
            }
            sid
        }
    };
    let user = state
        .store
        .live_session(sid)
        .await?
        .ok_or(ApiError::SessionEnded)?;
    let target = F::open(state, key, user).await?;
    Ok(Access { target, sid })
}

/// Where the subscriber stands. The proxy's next-link fetch says it in `Grip-Last` (or the
/// link's own `after`); a client in `Last-Event-ID` (browsers resend it on reconnect), or in
/// the query. `None` is a first visit.
fn cursor(
    headers: &HeaderMap,
    path: &StreamPath,
    query: &StreamQuery,
    channel: &str,
) -> ApiResult<Option<u64>> {
    let non_empty = |v: &str| !v.trim().is_empty();
    if path.cap.is_some() {
        if let Some(last) = grip_last(headers, channel)? {
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
