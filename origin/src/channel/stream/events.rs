//! `GET …/events`: a Server-Sent Events stream held open by the proxy.
//!
//! The answer is the replay as SSE events plus the instructions that make it live:
//! `Grip-Hold: stream`, `Grip-Channel: <channel>; prev-id=<last replayed seq>` and a `Grip-Link`
//! next link. Each publish carries `id`/`prev-id`; when one does not follow the stream's last
//! id, the proxy fetches the next link (with `Grip-Last`) and appends what it gets, so no entry
//! is lost or repeated even if a publish is.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use shared::event::ServerEvent;
use shared::grip;
use shared::subscription::Transport;

use super::{StreamPath, StreamQuery, authorize, cursor};
use crate::channel::Feed;
use crate::channel::replay::replay;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::grip::next_page;
use crate::state::AppState;

/// Most entries one recovery answer carries. A subscriber further behind than this is let go
/// (the stream ends) and reconnects with `Last-Event-ID`, which pages through the rest.
const RECOVERY_LIMIT: u32 = 10_000;

pub async fn events<F: Feed>(
    State(state): State<AppState>,
    path: StreamPath,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let access = match authorize::<F>(&state, &path, Transport::EventSource, &headers, &query).await
    {
        Ok(access) => access,
        // A refresh finds the session ended or access gone: end the stream with word of why
        // (an error status would only make the proxy retry).
        Err(err @ (ApiError::SessionEnded | ApiError::NotFound(_))) if path.cap.is_some() => {
            return Ok(ending::<F>(&err));
        }
        Err(err) => return Err(err),
    };
    let channel = &access.target.channel;
    let cursor = cursor(&headers, &path, &query, &channel.name)?;
    // `Grip-Last` marks the proxy's recovery fetch for a stream that is already held and
    // subscribed; anything else is a new stream (or the next page of its first replay).
    let recovering = headers.contains_key(grip::LAST);
    if recovering {
        state.metrics.recovery(Transport::EventSource);
    }
    let page = if recovering {
        RECOVERY_LIMIT
    } else {
        state.streams.replay_page
    };
    let replay = replay::<F::Entry>(&state.store, channel, cursor, page).await?;

    let mut body = String::new();
    if replay.reset {
        let reset = ServerEvent::<F::Entry>::Reset {
            last_seq: replay.position,
        };
        body.push_str(&reset.to_sse().encode());
    }
    for entry in replay.entries {
        body.push_str(&ServerEvent::Entry(entry).to_sse().encode());
    }

    let mut response = body.into_response();
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let (key, sse) = (&path.key, Transport::EventSource);
    match (replay.complete, recovering) {
        // Caught up: hold the stream, subscribed from the chain link of the last replayed seq.
        (true, _) => {
            state.metrics.hold(Transport::EventSource);
            let mut subscribe = access.subscribe(
                &state.auth.capabilities,
                Some(channel.chain_at(replay.position)),
            );
            subscribe.next_link = Some(access.next_link::<F>(&state, key, sse, replay.position));
            subscribe.stream(out);
        }
        // One page of a new stream's long replay: no hold, so the proxy sends it and fetches
        // the next page at once; it holds when a page comes back complete.
        (false, false) => next_page(
            access.next_page_link::<F>(&state, key, sse, replay.position),
            out,
        ),
        // A held stream too far behind to recover in one answer. Releasing it into paging
        // would let the proxy flush the publishes it queued meanwhile after the page (repeated,
        // out of order), so the stream ends here instead: the client reconnects and pages.
        (false, true) => {}
    }
    Ok(response)
}

/// The last answer of a stream whose access ended: an `error` event, and no hold.
fn ending<F: Feed>(err: &ApiError) -> Response {
    let body = err.body();
    let event = ServerEvent::<F::Entry>::Error {
        code: body.error.code,
        message: body.error.message,
    };
    let mut response = event.to_sse().encode().into_response();
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
