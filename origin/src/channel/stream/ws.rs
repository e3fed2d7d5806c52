//! `…/ws`: WebSocket-over-HTTP. The proxy keeps the client's WebSocket and turns its life into
//! HTTP requests: each carries events (OPEN, TEXT, PING, CLOSE, …) and the answer carries the
//! events to send back. The origin keeps no connection state between requests.
//!
//! - OPEN: accept, subscribe the connection to the channel (`c:` control messages), replay from
//!   `?last_event_id=`, then `synced` with the channel's last seq.
//! - TEXT: a [`ClientCommand`]: `resume` replays after a seq; anything else is the feed's own
//!   command ([`Feed::command`]: chat's `send` appends a message and answers `ack`, the message
//!   itself arriving through the channel like everyone's). Anything unreadable gets an `error`
//!   event and the connection stays open.
//! - PING → PONG, CLOSE → CLOSE, DISCONNECT → nothing.
//!
//! The proxy has no gap recovery for WebSockets, so the client does it: seq is gapless, a client
//! that sees a jump (or a `synced` ahead of it) sends `resume`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use shared::event::{ClientCommand, Entry, ServerEvent};
use shared::subscription::Transport;
use shared::wsoh::{self, CloseFrame, WsEvent};

use super::{Access, StreamQuery};
use crate::auth::{Session, authenticate};
use crate::channel::replay::{parse_cursor, replay};
use crate::channel::{Feed, Target};
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathOf, Query};
use crate::limits::Action;
use crate::state::AppState;

/// Close code for a connection whose session is no longer valid (4000–4999 are the app's).
const CLOSE_UNAUTHENTICATED: u16 = 4401;

/// Most bytes of entries one answer replays. Pushpin drops a WebSocket whose WebSocket-over-HTTP
/// answer exceeds 1,000,000 bytes (`RESPONSE_BODY_MAX`); a long replay goes out in parts, each
/// ending in a `synced` that tells the client to resume again.
const REPLAY_BYTES: usize = 256 * 1024;

pub async fn ws<F: Feed>(
    State(state): State<AppState>,
    PathOf(key): PathOf<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    F::validate_key(&key)?;
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
                let target = F::open(&state, &key, session.user.id).await?;
                let cursor = query
                    .last_event_id
                    .as_deref()
                    .filter(|v| !v.trim().is_empty())
                    .map(parse_cursor)
                    .transpose()?;
                state.metrics.hold(Transport::WebSocket);
                out.push(WsEvent::Open);
                let access = Access {
                    target,
                    sid: session.sid,
                };
                out.extend(access.subscribe(&state.auth.capabilities, None).socket());
                replay_into::<F::Entry>(&state, &access.target, cursor, &mut out).await?;
            }
            WsEvent::Text(text) => match &session {
                Ok(session) => command::<F>(&state, &key, session, &text, &mut out).await?,
                Err(err) => {
                    out.push(error_event::<F::Entry>(err));
                    out.push(WsEvent::Close(Some(CloseFrame {
                        code: CLOSE_UNAUTHENTICATED,
                        reason: "session ended or expired".into(),
                    })));
                }
            },
            WsEvent::Binary(_) => out.push(error_event::<F::Entry>(&ApiError::BadWebSocketEvents(
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
async fn command<F: Feed>(
    state: &AppState,
    key: &str,
    session: &Session,
    text: &str,
    out: &mut Vec<WsEvent>,
) -> ApiResult<()> {
    let result = async {
        let command = ClientCommand::<F::Command>::from_json(text)
            .map_err(|e| ApiError::BadJson(e.to_string()))?;
        // Access is checked again for every command: it may have ended since the opening.
        let target = F::open(state, key, session.user.id).await?;
        match command {
            ClientCommand::Resume { after } => {
                state.limits.check(Action::Resume(session.user.id))?;
                replay_into::<F::Entry>(state, &target, Some(after), out).await?;
            }
            ClientCommand::Own(command) => {
                for event in F::command(state, key, &target, session, command).await? {
                    out.push(WsEvent::Text(event.to_json()));
                }
            }
        }
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Err(ApiError::Internal(e)) => Err(ApiError::Internal(e)),
        Err(mistake) => {
            out.push(error_event::<F::Entry>(&mistake));
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Replays from `cursor`, then says where the channel is (`synced`): a client still behind
/// (a replay longer than one page, or than [`REPLAY_BYTES`]) resumes again.
async fn replay_into<E: Entry>(
    state: &AppState,
    target: &Target,
    cursor: Option<u64>,
    out: &mut Vec<WsEvent>,
) -> ApiResult<()> {
    let replay = replay::<E>(
        &state.store,
        &target.channel,
        cursor,
        state.streams.replay_page,
    )
    .await?;
    if replay.reset {
        out.push(text_event(&ServerEvent::<E>::Reset {
            last_seq: replay.position,
        }));
    }
    // The channel is at least as far as the newest entry read, sent or not.
    let mut last_seq = replay.entries.last().map_or(replay.position, Entry::seq);
    let mut complete = replay.complete;
    let mut bytes = 0;
    for entry in replay.entries {
        let text = ServerEvent::Entry(entry).to_json();
        bytes += text.len();
        // At least one entry per answer, however large.
        if bytes > REPLAY_BYTES && bytes > text.len() {
            complete = false;
            break;
        }
        out.push(WsEvent::Text(text));
    }
    if !complete {
        last_seq = last_seq.max(target.channel.last_seq);
    }
    out.push(text_event(&ServerEvent::<E>::Synced { last_seq }));
    Ok(())
}

fn text_event<E: Entry>(event: &ServerEvent<E>) -> WsEvent {
    WsEvent::Text(event.to_json())
}

fn error_event<E: Entry>(err: &ApiError) -> WsEvent {
    let body = err.body();
    text_event(&ServerEvent::<E>::Error {
        code: body.error.code,
        message: body.error.message,
    })
}
