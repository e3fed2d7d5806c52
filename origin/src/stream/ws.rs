//! `/api/rooms/{slug}/ws`: WebSocket-over-HTTP. The proxy keeps the client's WebSocket and turns
//! its life into HTTP requests: each carries events (OPEN, TEXT, PING, CLOSE, …) and the answer
//! carries the events to send back. The origin keeps no connection state between requests.
//!
//! - OPEN: accept, subscribe the connection to the room's channel (a `c:` control message),
//!   replay from `?last_event_id=`, then `synced` with the room's last seq.
//! - TEXT: a [`ClientCommand`]: `send` stores and publishes a message and answers `ack` (the
//!   message itself arrives through the channel, like everyone's); `resume` replays after a seq.
//!   Anything unreadable gets an `error` event and the connection stays open.
//! - PING → PONG, CLOSE → CLOSE, DISCONNECT → nothing.
//!
//! The proxy has no gap recovery for WebSockets, so the client does it: seq is gapless, a client
//! that sees a jump (or a `synced` ahead of it) sends `resume`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use shared::api::PostMessage;
use shared::event::{ClientCommand, ServerEvent};
use shared::wsoh::{self, CloseFrame, WsEvent};

use super::{Access, StreamQuery};
use crate::access;
use crate::app::AppState;
use crate::auth::authenticate;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Query, Slug};
use crate::grip::ViaGrip;
use crate::limits::Action;
use crate::metrics::Transport;
use crate::post::post_message;
use crate::replay::{parse_cursor, replay};
use crate::store::RoomRow;

/// Close code for a connection whose session is no longer valid (4000–4999 are the app's).
const CLOSE_UNAUTHENTICATED: u16 = 4401;

/// Most bytes of messages one answer replays. Pushpin drops a WebSocket whose WebSocket-over-HTTP
/// answer exceeds 1,000,000 bytes (`RESPONSE_BODY_MAX`); a long replay goes out in parts, each
/// ending in a `synced` that tells the client to resume again.
const REPLAY_BYTES: usize = 256 * 1024;

pub async fn ws(
    _via: ViaGrip,
    State(state): State<AppState>,
    Slug(slug): Slug,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let events = wsoh::decode(&body).map_err(|e| ApiError::BadWebSocketEvents(e.to_string()))?;
    // The proxy repeats the handshake's headers (cookie included) on every request.
    let session = authenticate(&state, &headers).await;
    let mut out = Vec::new();
    for event in events {
        match event {
            WsEvent::Open => {
                // An error here answers the handshake with its status: 401 or 404.
                let session = session.as_ref().map_err(|err| match err {
                    ApiError::SessionEnded => ApiError::SessionEnded,
                    _ => ApiError::Unauthenticated,
                })?;
                let room = access::readable_room(&state, &slug, &session.user).await?;
                let cursor = query
                    .last_event_id
                    .as_deref()
                    .filter(|v| !v.trim().is_empty())
                    .map(parse_cursor)
                    .transpose()?;
                state.metrics.hold(Transport::Ws);
                out.push(WsEvent::Open);
                let access = Access {
                    room,
                    user: session.user.id,
                    sid: session.sid,
                    session_expires: session.expires,
                    link: None,
                };
                for (channel, _) in access.channels(None) {
                    out.push(wsoh::subscribe(&channel));
                }
                replay_into(&state, &access.room, cursor, &mut out).await?;
            }
            WsEvent::Text(text) => match &session {
                Ok(session) => command(&state, &slug, &session.user, &text, &mut out).await?,
                Err(err) => {
                    out.push(error_event(err));
                    out.push(WsEvent::Close(Some(CloseFrame {
                        code: CLOSE_UNAUTHENTICATED,
                        reason: "session ended or expired".into(),
                    })));
                }
            },
            WsEvent::Binary(_) => out.push(error_event(&ApiError::BadWebSocketEvents(
                "binary messages are not supported; send JSON text".into(),
            ))),
            WsEvent::Ping(data) => out.push(WsEvent::Pong(data)),
            WsEvent::Close(frame) => out.push(WsEvent::Close(frame)),
            WsEvent::Pong(_) | WsEvent::Disconnect => {}
        }
    }
    Ok((
        [
            (CONTENT_TYPE, wsoh::CONTENT_TYPE),
            // Tells the proxy this backend speaks GRIP and sends unprefixed messages.
            (
                axum::http::header::SEC_WEBSOCKET_EXTENSIONS,
                wsoh::GRIP_EXTENSION,
            ),
        ],
        wsoh::encode(&out),
    )
        .into_response())
}

/// Runs one client command; the caller's mistakes become `error` events, not failed requests.
async fn command(
    state: &AppState,
    slug: &str,
    user: &shared::api::User,
    text: &str,
    out: &mut Vec<WsEvent>,
) -> ApiResult<()> {
    let result = async {
        let command: ClientCommand =
            serde_json::from_str(text).map_err(|e| ApiError::BadJson(e.to_string()))?;
        match command {
            ClientCommand::Send { body, client_id } => {
                let post = PostMessage { body, client_id };
                post.validate()?;
                let room = access::readable_room(state, slug, user).await?;
                let (message, _) = post_message(state, &room, user, &post).await?;
                out.push(text_event(&ServerEvent::Ack {
                    client_id: message.client_id,
                    seq: message.seq,
                }));
            }
            ClientCommand::Resume { after } => {
                state.limits.check(Action::Resume(user.id))?;
                let room = access::readable_room(state, slug, user).await?;
                replay_into(state, &room, Some(after), out).await?;
            }
        }
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Err(ApiError::Internal(e)) => Err(ApiError::Internal(e)),
        Err(mistake) => {
            out.push(error_event(&mistake));
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Replays from `cursor`, then says where the room is (`synced`): a client still behind
/// (a replay longer than one page, or than [`REPLAY_BYTES`]) resumes again.
async fn replay_into(
    state: &AppState,
    room: &RoomRow,
    cursor: Option<u64>,
    out: &mut Vec<WsEvent>,
) -> ApiResult<()> {
    let replay = replay(state, room, cursor, state.replay_page).await?;
    if replay.reset {
        out.push(text_event(&ServerEvent::Reset {
            last_seq: replay.position,
        }));
    }
    // The room is at least as far as the newest message read, sent or not.
    let mut last_seq = replay.messages.last().map_or(replay.position, |m| m.seq);
    let mut complete = replay.complete;
    let mut bytes = 0;
    for message in replay.messages {
        let text = ServerEvent::Message { message }.to_json();
        bytes += text.len();
        // At least one message per answer, however large.
        if bytes > REPLAY_BYTES && bytes > text.len() {
            complete = false;
            break;
        }
        out.push(WsEvent::Text(text));
    }
    if !complete {
        last_seq = last_seq.max(room.last_seq);
    }
    out.push(text_event(&ServerEvent::Synced { last_seq }));
    Ok(())
}

fn text_event(event: &ServerEvent) -> WsEvent {
    WsEvent::Text(event.to_json())
}

fn error_event(err: &ApiError) -> WsEvent {
    let body = err.body();
    text_event(&ServerEvent::Error {
        code: body.error.code,
        message: body.error.message,
    })
}
