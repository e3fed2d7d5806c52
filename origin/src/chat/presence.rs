//! Who is in a room, and who is typing: chat's signals, which ride the room's streams beside its
//! messages but are never stored as entries, replayed, or counted in seq (`shared::event`).
//!
//! - **Presence** follows users, not connections: each device (a browser tab) sends a heartbeat
//!   every `shared::chat::HEARTBEAT`; a user is online while one of their devices was seen
//!   within the TTL. The rows live in the database (`store::presence`), so every origin agrees;
//!   a join or a leave is published as a signal, and every heartbeat is answered with the full
//!   list, which repairs any signal a client missed.
//! - **Typing** is not stored anywhere: a signal, rate-limited per user (a flood is refused
//!   before anything is published, so it slows nobody else), shown by clients for
//!   `shared::chat::TYPING_SHOWN`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shared::api::{Presence, User, validate_device, validate_slug};
use shared::chat::{Message, RoomSignal, signals_channel};
use tokio::task::JoinHandle;

use super::readable_room;
use crate::auth::CurrentUser;
use crate::channel::publish::{Kind, Publisher, signal_item};
use crate::error::ApiResult;
use crate::extract::{PathOf, Slug};
use crate::limits::Action;
use crate::state::AppState;
use crate::store::{Store, now_millis};

/// `PUT /api/rooms/{slug}/presence/{device}`: a heartbeat; who is online now.
pub async fn heartbeat(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    PathOf((slug, device)): PathOf<(String, String)>,
) -> ApiResult<Json<Presence>> {
    validate_slug(&slug)?;
    validate_device(&device)?;
    state.limits.check(Action::Heartbeat(user.id))?;
    let room = readable_room(&state.store, &slug, user.id).await?;
    let now = now_millis();
    let beat = state
        .store
        .heartbeat(
            room.channel.id,
            (user.id, &user.name),
            &device,
            now,
            live_since(now, state.presence_ttl),
        )
        .await?;
    if beat.joined {
        let joined = RoomSignal::Joined { user: user.name };
        publish(&state.channels.publisher, &slug, &joined);
    }
    Ok(Json(Presence {
        online: beat.online,
    }))
}

/// `DELETE /api/rooms/{slug}/presence/{device}`: the device left the room (its page closed).
pub async fn leave(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    PathOf((slug, device)): PathOf<(String, String)>,
) -> ApiResult<StatusCode> {
    validate_slug(&slug)?;
    validate_device(&device)?;
    let room = readable_room(&state.store, &slug, user.id).await?;
    let since = live_since(now_millis(), state.presence_ttl);
    let gone = state
        .store
        .leave(room.channel.id, user.id, &device, since)
        .await?;
    if gone {
        publish(
            &state.channels.publisher,
            &slug,
            &RoomSignal::Left { user: user.name },
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/rooms/{slug}/typing`: says the caller is typing in the room.
pub async fn typing_post(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Slug(slug): Slug,
) -> ApiResult<StatusCode> {
    readable_room(&state.store, &slug, user.id).await?;
    typing(&state, &slug, &user)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publishes that `user` is typing in the room `slug` (which they may read), unless they said
/// so too often (429).
pub fn typing(state: &AppState, slug: &str, user: &User) -> ApiResult<()> {
    state.limits.check(Action::Typing(user.id))?;
    let typing = RoomSignal::Typing {
        user: user.name.clone(),
    };
    publish(&state.channels.publisher, slug, &typing);
    Ok(())
}

fn publish(publisher: &Publisher, slug: &str, signal: &RoomSignal) {
    let item = signal_item::<Message>(&signals_channel(slug), signal);
    publisher.publish(Kind::Signal, &item);
}

/// The oldest heartbeat (Unix ms) of a device still online at `now`.
fn live_since(now: i64, ttl: Duration) -> i64 {
    now - ttl.as_millis() as i64
}

/// Forgets devices whose heartbeats stopped, and publishes the leave of users who went with
/// them; every origin runs one (each leave is found by one of them: `store::presence`).
pub struct Sweeper {
    pub store: Store,
    pub publisher: Publisher,
    pub ttl: Duration,
}

impl Sweeper {
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            // A few sweeps per TTL: a closed laptop shows offline within about 1.25 TTLs.
            let mut every = tokio::time::interval(self.ttl / 4);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let since = live_since(now_millis(), self.ttl);
                match self.store.expire_presence(since).await {
                    Ok(gone) => {
                        for gone in gone {
                            let left = RoomSignal::Left { user: gone.user };
                            publish(&self.publisher, &gone.slug, &left);
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "could not expire presence"),
                }
            }
        })
    }
}
