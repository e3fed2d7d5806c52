//! What keeps an open room list current: read marks (`PUT /api/rooms/{slug}/read`), and
//! `GET /api/activity`, a Server-Sent Events stream held by Fanout that tells the list when to
//! refetch ([`Activity`]).
//!
//! The stream carries no counts, only news that counts changed: the counts come from the
//! database with the list (`store::reads`), so an activity item lost costs a late badge, never a
//! wrong one, and the items are not numbered or replayed. The stream joins one channel per room
//! the user may see, so it hears of new messages exactly where they may read; it ends (and the
//! browser reconnects, joining the new set) when their session ends or they leave a private
//! room, and is told to reconnect when the set of rooms grows.
//!
//! News of new messages is coalesced per room ([`RoomActivity`]): a list only needs to know
//! that a room changed, so a burst of a thousand posts costs a few activity items, not a
//! thousand more publishes queued beside the room's own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use shared::api::{MarkRead, ROOMS_PAGE_MAX, ReadMark};
use shared::chat::{
    ACTIVITY_EVENT, Activity, ROOMS_CHANNEL, activity_channel, member_channel,
    user_activity_channel,
};
use shared::publish::{Formats, HttpStream, Item};
use shared::session::session_channel;
use shared::sse::SseEvent;

use super::readable_room;
use crate::auth::{CurrentUser, authenticate};
use crate::channel::publish::{Kind, Publisher};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Slug, ValidJson};
use crate::grip::Subscribe;
use crate::limits::Action;
use crate::state::AppState;

/// `PUT /api/rooms/{slug}/read`: moves the caller's read mark forward (never back); a mark past
/// the room's newest message is refused.
pub async fn mark_read(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Slug(slug): Slug,
    ValidJson(mark): ValidJson<MarkRead>,
) -> ApiResult<Json<ReadMark>> {
    state.limits.check(Action::MarkRead(user.id))?;
    let room = readable_room(&state.store, &slug, user.id).await?;
    // The channel as the look-up just read it: a message appended since is only marked by the
    // next mark.
    let last = room.channel.last_seq;
    if mark.seq > last {
        return Err(ApiError::from(shared::api::Invalid {
            field: "seq",
            reason: format!("the room's newest message is {last}"),
        }));
    }
    let read = state.store.mark_read(user.id, room.id, mark.seq).await?;
    let news = Activity::Read {
        room: slug,
        seq: read,
    };
    publish(
        &state.channels.publisher,
        &user_activity_channel(&user.id),
        &news,
    );
    Ok(Json(ReadMark { read }))
}

/// `GET /api/activity`, through Fanout only: `ready` now, then [`Activity`] as it happens, for
/// the first page of rooms the caller may see (the list the app shows).
pub async fn events(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let session = authenticate(&state, &headers).await?;
    let user = &session.user;
    // Which rooms, not their counts: this runs on every (re)connect.
    let rooms = state
        .store
        .rooms_visible_to(user.id, "", ROOMS_PAGE_MAX)
        .await?;
    let mut channels = vec![
        (session_channel(&session.sid), None),
        (user_activity_channel(&user.id), None),
        (ROOMS_CHANNEL.to_owned(), None),
    ];
    for room in &rooms {
        channels.push((activity_channel(&room.slug), None));
        if room.private {
            // Removed from the room, the stream ends, and reconnects without it.
            channels.push((member_channel(&room.slug, &user.id), None));
        }
    }
    let mut response = sse(&Activity::Ready).encode().into_response();
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Subscribe {
        channels,
        next_link: None,
    }
    .stream(out);
    Ok(response)
}

/// At most one room's message news per this long: the newest, at the end of the window, so the
/// last message of a burst is always told (a list refetches ~300 ms after news anyway).
const COALESCE: Duration = Duration::from_millis(250);

/// Tells room lists of new messages, a room at a time, coalesced ([`COALESCE`]). Each origin
/// coalesces what it stores; that is all it keeps, and only for a moment.
#[derive(Clone)]
pub struct RoomActivity {
    publisher: Publisher,
    /// The news waiting for its window to end, by room.
    waiting: Arc<Mutex<HashMap<String, Activity>>>,
}

impl RoomActivity {
    pub fn new(publisher: Publisher) -> RoomActivity {
        RoomActivity {
            publisher,
            waiting: Arc::default(),
        }
    }

    /// `author` posted message `seq` in `room`.
    pub fn posted(&self, room: &str, seq: u64, author: &str) {
        let news = Activity::Message {
            room: room.to_owned(),
            seq,
            author: author.to_owned(),
        };
        let opened = {
            let mut waiting = self.waiting.lock().expect("not poisoned");
            waiting.insert(room.to_owned(), news).is_none()
        };
        if opened {
            let this = self.clone();
            let room = room.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep(COALESCE).await;
                let news = this.waiting.lock().expect("not poisoned").remove(&room);
                if let Some(news) = news {
                    publish(&this.publisher, &activity_channel(&room), &news);
                }
            });
        }
    }
}

/// Tells the room lists subscribed to `channel`. Best effort, like every signal.
pub fn publish(publisher: &Publisher, channel: &str, news: &Activity) {
    let item = Item {
        channel: channel.to_owned(),
        id: None,
        prev_id: None,
        formats: Formats {
            http_stream: Some(HttpStream::content(sse(news).encode())),
            ..Formats::default()
        },
    };
    publisher.publish(Kind::Signal, &item);
}

fn sse(news: &Activity) -> SseEvent {
    let data = serde_json::to_string(news).expect("activity serialises");
    SseEvent::message(data).with_event(ACTIVITY_EVENT)
}
