//! Replay: where a (re)connecting subscriber stands, and what it missed.
//!
//! Every stream answer starts with a replay: a first visit gets the latest messages, a
//! reconnect gets exactly the messages after its cursor, in seq order. Live messages then
//! continue from the replay's last seq, which the stream announces as the channel's `prev-id`.

use axum::http::HeaderMap;
use shared::api::REPLAY_FIRST_VISIT;
use shared::grip;
use shared::message::Message;
use shared::publish::ChainId;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::RoomRow;

/// What a subscriber is sent before it goes live.
#[derive(Debug)]
pub struct Replay {
    pub messages: Vec<Message>,
    /// The cursor was ahead of the room (the database was reset, or the id came from elsewhere):
    /// the client must drop what it shows and start over from these messages.
    pub reset: bool,
    /// The seq the subscriber has after this replay: the last replayed, or its cursor.
    pub position: u64,
    /// False when more messages follow than one response carries.
    pub complete: bool,
}

/// Parses a cursor (an SSE event id / seq).
pub fn parse_cursor(value: &str) -> ApiResult<u64> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::BadCursor(value.to_owned()))
}

/// The seq recorded in a `Grip-Last` header for `channel`: where the proxy's copy of the stream
/// stopped when it fetches a next link. The header names a chain link (`12` or `12.3`, see
/// [`ChainId`]); its seq is the last message the stream delivered.
pub fn grip_last(headers: &HeaderMap, channel: &str) -> ApiResult<Option<u64>> {
    let Some(value) = headers.get(grip::LAST) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::BadCursor("Grip-Last".into()))?;
    let entries = grip::parse_last(value).map_err(|e| ApiError::BadCursor(e.to_string()))?;
    entries
        .iter()
        .find(|e| e.channel == channel)
        .map(|e| {
            ChainId::parse(&e.last_id)
                .map(|link| link.seq)
                .ok_or_else(|| ApiError::BadCursor(e.last_id.clone()))
        })
        .transpose()
}

/// The messages a subscriber at `cursor` (`None`: first visit) is owed, at most `page` of them.
pub async fn replay(
    state: &AppState,
    room: &RoomRow,
    cursor: Option<u64>,
    page: u32,
) -> ApiResult<Replay> {
    let store = &state.store;
    // A cursor the room has not reached (a reset database, an id from elsewhere) is unknown:
    // the subscriber starts over. The row passed in may be a few posts old, so look again first.
    let known = match cursor {
        Some(after) => after <= room.last_seq || after <= current_last_seq(state, room).await?,
        None => false,
    };
    if let (Some(after), true) = (cursor, known) {
        // One more than a page tells whether the page is the end.
        let mut messages = store.messages_after(room, after, page + 1).await?;
        let complete = messages.len() <= page as usize;
        messages.truncate(page as usize);
        let position = messages.last().map_or(after, |m| m.seq);
        return Ok(Replay {
            messages,
            reset: false,
            position,
            complete,
        });
    }
    let messages = store
        .messages_before(room, None, REPLAY_FIRST_VISIT)
        .await?;
    Ok(Replay {
        position: messages.last().map_or(0, |m| m.seq),
        messages,
        reset: cursor.is_some(),
        complete: true,
    })
}

/// The room's last seq as of now (the row passed around may be a few posts old).
async fn current_last_seq(state: &AppState, room: &RoomRow) -> ApiResult<u64> {
    Ok(state
        .store
        .room_by_slug(&room.room.slug)
        .await?
        .map_or(0, |r| r.last_seq))
}
