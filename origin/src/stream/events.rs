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
use shared::message::room_channel;

use super::{StreamQuery, authorize, cursor, next_link};
use crate::app::AppState;
use crate::error::ApiResult;
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
    let room = authorize(&state, &slug, &headers, &query).await?;
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
    let replay = replay(&state, &room, cursor, page).await?;

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
            let position = room.chain_at(replay.position).to_string();
            out.insert(
                grip::HOLD,
                HeaderValue::from_static(grip::Hold::Stream.as_str()),
            );
            out.insert(
                grip::CHANNEL,
                header(grip::channel(&room_channel(&slug), Some(&position))),
            );
            out.insert(
                grip::LINK,
                header(next_link(&state, "events", &slug, replay.position)),
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
                header(next_link(&state, "events", &slug, replay.position)),
            );
        }
        // A held stream too far behind to recover in one answer. Releasing it into paging
        // would let the proxy flush the publishes it queued meanwhile after the page (repeated,
        // out of order), so the stream ends here instead: the client reconnects and pages.
        (false, true) => {}
    }
    Ok(response)
}

/// A header value built from parts that are ASCII by construction.
pub(crate) fn header(value: String) -> HeaderValue {
    HeaderValue::try_from(value).expect("GRIP header values are ASCII")
}
