//! `GET /api/rooms/{slug}/poll?after=SEQ`: long-polling, for clients that can hold neither a
//! stream nor a WebSocket. Messages after `after` are answered at once; otherwise the proxy holds
//! the request (`Grip-Hold: response`) until a message or a head is published to the room (its
//! `http-response` format is the answer) or the timeout passes (the body below: no messages).
//! An `after` ahead of the room is answered like SSE's and WebSocket's `reset`: `reset: true`
//! with the room's latest messages.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use shared::api::{HISTORY_PAGE_MAX, PollResponse};
use shared::grip;

use super::events::header;
use super::{StreamQuery, authorize, cursor};
use crate::app::AppState;
use crate::error::ApiResult;
use crate::extract::{Query, Slug};
use crate::grip::ViaGrip;
use crate::metrics::Transport;
use crate::replay::replay;

pub async fn poll(
    _via: ViaGrip,
    State(state): State<AppState>,
    Slug(slug): Slug,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let access = authorize(&state, &slug, "poll", &headers, &query).await?;
    let room = &access.room;
    let cursor = cursor(&headers, &query, &slug)?;
    if headers.contains_key(grip::LAST) {
        state.metrics.recovery(Transport::Poll);
    }
    let replay = replay(&state, room, cursor, HISTORY_PAGE_MAX).await?;
    if replay.reset || !replay.messages.is_empty() {
        return Ok(Json(PollResponse {
            messages: replay.messages,
            reset: replay.reset,
        })
        .into_response());
    }
    state.metrics.hold(Transport::Poll);
    let mut response = Json(PollResponse::default()).into_response();
    let out = response.headers_mut();
    out.insert(grip::HOLD, header(grip::Hold::Response.as_str().into()));
    out.insert(
        grip::CHANNEL,
        header(access.grip_channel(room.chain_at(replay.position))),
    );
    out.insert(
        grip::TIMEOUT,
        header(state.poll_timeout.as_secs().to_string()),
    );
    // A message stored between the query above and the hold shows up as a prev-id mismatch;
    // the proxy then fetches this link and answers the client with it.
    out.insert(
        grip::LINK,
        header(access.next_link(&state, "poll", replay.position)),
    );
    Ok(response)
}
