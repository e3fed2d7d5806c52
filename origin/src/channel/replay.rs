//! Replay: where a (re)connecting subscriber stands, and what it missed.
//!
//! Every stream answer starts with a replay: a first visit gets the latest entries, a
//! reconnect gets exactly the entries after its cursor, in seq order. Live entries then
//! continue from the replay's last seq, which the stream announces as the channel's `prev-id`.

use axum::http::HeaderMap;
use shared::api::REPLAY_FIRST_VISIT;
use shared::event::Entry;
use shared::grip;
use shared::publish::ChainId;
use shared::session::session_of_channel;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::store::{Channel, Store};

/// What a subscriber is sent before it goes live.
#[derive(Debug)]
pub struct Replay<E> {
    pub entries: Vec<E>,
    /// The cursor was ahead of the channel (the database was reset, or the id came from
    /// elsewhere), or behind what the channel still keeps: the client must drop what it shows
    /// and start over from these entries.
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

/// Every entry of the request's `Grip-Last` headers (Pushpin sends one per channel that has a
/// `prev-id`).
fn grip_lasts(headers: &HeaderMap) -> ApiResult<Vec<grip::LastId>> {
    let mut entries = Vec::new();
    for value in headers.get_all(grip::LAST) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::BadCursor("Grip-Last".into()))?;
        entries.extend(grip::parse_last(value).map_err(|e| ApiError::BadCursor(e.to_string()))?);
    }
    Ok(entries)
}

/// The seq recorded in a `Grip-Last` header for `channel`: where the proxy's copy of the stream
/// stopped when it fetches a next link. The header names a chain link (`12` or `12.3`, see
/// [`ChainId`]); its seq is the last message the stream delivered.
pub fn grip_last(headers: &HeaderMap, channel: &str) -> ApiResult<Option<u64>> {
    grip_lasts(headers)?
        .iter()
        .find(|e| e.channel == channel)
        .map(|e| {
            ChainId::parse(&e.last_id)
                .map(|link| link.seq)
                .ok_or_else(|| ApiError::BadCursor(e.last_id.clone()))
        })
        .transpose()
}

/// The session a next-link fetch is for, and the mark its stream was given: the `Grip-Last`
/// entry of a session channel (`channel::stream::Access::subscribe`).
pub fn grip_last_session(headers: &HeaderMap) -> ApiResult<Option<(Uuid, String)>> {
    Ok(grip_lasts(headers)?
        .into_iter()
        .find_map(|e| Some((session_of_channel(&e.channel)?, e.last_id))))
}

/// The entries a subscriber at `cursor` (`None`: first visit) is owed, at most `page` of them.
pub async fn replay<E: Entry>(
    store: &Store,
    channel: &Channel,
    cursor: Option<u64>,
    page: u32,
) -> ApiResult<Replay<E>> {
    // A cursor the channel has not reached (a reset database, an id from elsewhere) is unknown:
    // the subscriber starts over. The row passed in may be a few appends old, so look again.
    let known = match cursor {
        Some(after) => after <= channel.last_seq || after <= store.last_seq(channel.id).await?,
        None => false,
    };
    if let (Some(after), true) = (cursor, known) {
        // One more than a page tells whether the page is the end.
        let mut entries: Vec<E> = store.entries_after(channel.id, after, page + 1).await?;
        // A channel that keeps only a window (a dashboard) may have forgotten what follows the
        // cursor: the subscriber starts over rather than wait for entries that never come.
        let forgotten = entries.first().is_some_and(|e| e.seq() != after + 1);
        if !forgotten {
            let complete = entries.len() <= page as usize;
            entries.truncate(page as usize);
            let position = entries.last().map_or(after, Entry::seq);
            return Ok(Replay {
                entries,
                reset: false,
                position,
                complete,
            });
        }
    }
    let entries: Vec<E> = store
        .entries_before(channel.id, None, REPLAY_FIRST_VISIT)
        .await?;
    Ok(Replay {
        position: entries.last().map_or(0, Entry::seq),
        entries,
        reset: cursor.is_some(),
        complete: true,
    })
}
