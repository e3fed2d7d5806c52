//! `GET /api/rooms/{slug}/events`: a Server-Sent Events stream held open by the proxy.
//!
//! The answer is the replay as SSE events plus the instructions that make it live:
//! `Grip-Hold: stream`, `Grip-Channel: room-<slug>; prev-id=<last replayed seq>` and a
//! `Grip-Link` next link. Each publish carries `id`/`prev-id`; when one does not follow the
//! stream's last id, the proxy fetches the next link (with `Grip-Last`) and appends what it gets,
//! so no message is lost or repeated even if a publish is.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use shared::event::ServerEvent;
use shared::grip;

use super::{StreamQuery, authorize, cursor};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Query, Slug};
use crate::grip::ViaGrip;
use crate::metrics::Transport;
use crate::replay::replay;

/// Idle seconds before the proxy sends a keep-alive comment.
const KEEP_ALIVE_SECS: u32 = 30;

/// Most messages one recovery answer carries. A subscriber further behind than this is let go
/// (the stream ends) and reconnects with `Last-Event-ID`, which pages through the rest.
const RECOVERY_LIMIT: u32 = 10_000;

pub async fn events(
    _via: ViaGrip,
    State(state): State<AppState>,
    Slug(slug): Slug,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let access = match authorize(&state, &slug, "events", &headers, &query).await {
        Ok(access) => access,
        // A refresh finds the session ended or the member removed: end the stream with word
        // of why (an error status would only make the proxy retry).
        Err(err @ (ApiError::SessionEnded | ApiError::NotFound(_))) if query.cap.is_some() => {
            return Ok(ending(&err));
        }
        Err(err) => return Err(err),
    };
    let room = &access.room;
    let cursor = cursor(&headers, &query, &slug)?;
    // `Grip-Last` marks the proxy's recovery fetch for a stream that is already held and
    // subscribed; anything else is a new stream (or the next page of its first replay).
    let recovering = headers.contains_key(grip::LAST);
    if recovering {
        state.metrics.recovery(Transport::Sse);
    }
    let page = if recovering {
        RECOVERY_LIMIT
    } else {
        state.replay_page
    };
    let replay = replay(&state, room, cursor, page).await?;

    let mut body = String::new();
    if replay.reset {
        let reset = ServerEvent::Reset {
            last_seq: replay.position,
        };
        body.push_str(&reset.to_sse().encode());
    }
    for message in replay.messages {
        body.push_str(&ServerEvent::Message { message }.to_sse().encode());
    }

    let mut response = body.into_response();
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match (replay.complete, recovering) {
        // Caught up: hold the stream, subscribed from the chain link of the last replayed seq.
        (true, _) => {
            state.metrics.hold(Transport::Sse);
            out.insert(
                grip::HOLD,
                HeaderValue::from_static(grip::Hold::Stream.as_str()),
            );
            out.insert(
                grip::CHANNEL,
                header(access.grip_channel(room.chain_at(replay.position))),
            );
            out.insert(
                grip::LINK,
                header(access.next_link(&state, "events", replay.position)),
            );
            out.insert(
                grip::KEEP_ALIVE,
                header(grip::keep_alive(
                    &shared::sse::comment("keep-alive"),
                    KEEP_ALIVE_SECS,
                )),
            );
        }
        // One page of a new stream's long replay: no hold, so the proxy sends it and fetches
        // the next page at once; it holds when a page comes back complete.
        (false, false) => {
            out.insert(
                grip::LINK,
                header(access.next_link(&state, "events", replay.position)),
            );
        }
        // A held stream too far behind to recover in one answer. Releasing it into paging
        // would let the proxy flush the publishes it queued meanwhile after the page (repeated,
        // out of order), so the stream ends here instead: the client reconnects and pages.
        (false, true) => {}
    }
    Ok(response)
}

/// The last answer of a stream whose access ended: an `error` event, and no hold.
fn ending(err: &ApiError) -> Response {
    let body = err.body();
    let event = ServerEvent::Error {
        code: body.error.code,
        message: body.error.message,
    };
    let mut response = event.to_sse().encode().into_response();
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A header value built from parts that are ASCII by construction.
pub(crate) fn header(value: String) -> HeaderValue {
    HeaderValue::try_from(value).expect("GRIP header values are ASCII")
}
