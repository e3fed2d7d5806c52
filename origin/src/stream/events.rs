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

pub async fn events(
    _via: ViaGrip,
    State(state): State<AppState>,
    Slug(slug): Slug,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let room = authorize(&state, &slug, &headers, &query).await?;
    let cursor = cursor(&headers, &query, &slug)?;
    let replay = replay(&state, &room, cursor, state.replay_page).await?;

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
    out.insert(
        grip::LINK,
        header(next_link(&state, "events", &slug, replay.position)),
    );
    if replay.complete {
        state.metrics.hold(Transport::Sse);
        let position = replay.position.to_string();
        out.insert(
            grip::HOLD,
            HeaderValue::from_static(grip::Hold::Stream.as_str()),
        );
        out.insert(
            grip::CHANNEL,
            header(grip::channel(&room_channel(&slug), Some(&position))),
        );
        out.insert(
            grip::KEEP_ALIVE,
            header(grip::keep_alive(
                &shared::sse::comment("keep-alive"),
                KEEP_ALIVE_SECS,
            )),
        );
    }
    // Otherwise this is one page of a long replay: no hold, so the proxy sends it, fetches the
    // next link at once, and holds only when a page comes back complete.
    Ok(response)
}

/// A header value built from parts that are ASCII by construction.
pub(crate) fn header(value: String) -> HeaderValue {
    HeaderValue::try_from(value).expect("GRIP header values are ASCII")
}
