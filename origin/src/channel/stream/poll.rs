//! `GET …/poll?after=SEQ`: long-polling, for clients that can hold neither a stream nor a
//! WebSocket. Entries after `after` are answered at once; otherwise the proxy holds the request
//! (`Grip-Hold: response`) until an entry or a head is published to the channel (its
//! `http-response` format is the answer) or the timeout passes (the body below: an empty page).
//! An `after` ahead of the channel is answered like SSE's and WebSocket's `reset`: `reset: true`
//! with the channel's latest entries.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use shared::api::HISTORY_PAGE_MAX;
use shared::event::Page;
use shared::grip;
use shared::subscription::Transport;

use super::{StreamPath, StreamQuery, authorize, cursor};
use crate::channel::Feed;
use crate::channel::replay::replay;
use crate::error::ApiResult;
use crate::extract::Query;
use crate::state::AppState;

pub async fn poll<F: Feed>(
    State(state): State<AppState>,
    path: StreamPath,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let access = authorize::<F>(&state, &path, Transport::LongPoll, &headers, &query).await?;
    let channel = &access.target.channel;
    let cursor = cursor(&headers, &path, &query, &channel.name)?;
    if headers.contains_key(grip::LAST) {
        state.metrics.recovery(Transport::LongPoll);
    }
    let replay = replay::<F::Entry>(&state.store, channel, cursor, HISTORY_PAGE_MAX).await?;
    if replay.reset || !replay.entries.is_empty() {
        return Ok(Json(Page {
            entries: replay.entries,
            reset: replay.reset,
            ..Page::default()
        })
        .into_response());
    }
    state.metrics.hold(Transport::LongPoll);
    let mut response = Json(Page::<F::Entry>::default()).into_response();
    let mut subscribe = access.subscribe(
        &state.auth.capabilities,
        Some(channel.chain_at(replay.position)),
    );
    // An entry stored between the query above and the hold shows up as a prev-id mismatch;
    // the proxy then fetches this link and answers the client with it.
    subscribe.next_link =
        Some(access.next_link::<F>(&state, &path.key, Transport::LongPoll, replay.position));
    subscribe.response(state.streams.poll_timeout.as_secs(), response.headers_mut());
    Ok(response)
}
