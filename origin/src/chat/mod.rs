//! Chat, as one feature on the channel core: rooms (public or private, with members) whose
//! channels carry [`Message`]s.
//!
//! - [`rooms`]: list, look up, create rooms; add and remove members.
//! - [`presence`]: who is in a room (heartbeats per device) and who is typing, as signals.
//! - [`messages`]: history pages, posting, editing and deleting (over HTTP, and as the
//!   WebSocket `send`, `edit` and `delete` commands).
//! - [`search`]: full-text search in a room's messages.
//! - [`activity`]: read marks, and the stream that keeps an open room list's unread counts
//!   current.
//!
//! [`Chat`] is the [`Feed`] the stream endpoints follow: who may follow a room (anyone, or the
//! members of a private one) and chat's own WebSocket command. Who may see which room is decided
//! here, in [`readable_room`]: a private room the caller is not a member of is answered exactly
//! like a room that does not exist (404), so strangers cannot find out which private rooms
//! there are.

pub mod activity;
pub mod messages;
pub mod presence;
pub mod rooms;
pub mod search;

use axum::routing::{delete, get, patch, post, put};
use axum::{Router, middleware};
use shared::api::{EditMessage, Invalid, PostMessage, validate_slug};
use shared::chat::{ChatEvent, Command, Message, member_channel, room_channel, signals_channel};
use shared::paths;
use uuid::Uuid;

use crate::auth::Session;
use crate::channel::{Feed, Target, stream};
use crate::error::{ApiError, ApiResult};
use crate::grip::{GripVerifier, require_grip};
use crate::state::AppState;
use crate::store::{RoomRow, Store};

use self::messages::Amend;

/// Rooms and their messages, as the channel core sees them.
pub struct Chat;

impl Feed for Chat {
    type Entry = Message;
    type Command = Command;
    const STREAMS: paths::Streams = paths::ROOM_STREAMS;

    fn validate_key(slug: &str) -> Result<(), Invalid> {
        validate_slug(slug)
    }

    fn channel(slug: &str) -> String {
        room_channel(slug)
    }

    async fn open(state: &AppState, slug: &str, user: Uuid) -> ApiResult<Target> {
        let room = readable_room(&state.store, slug, user).await?;
        // A member removed from a private room loses its streams at once (`revoke`).
        let ends_with = match room.room.private {
            true => vec![member_channel(slug, &user)],
            false => Vec::new(),
        };
        Ok(Target {
            channel: room.channel,
            signals: Some(signals_channel(slug)),
            ends_with,
        })
    }

    async fn command(
        state: &AppState,
        slug: &str,
        target: &Target,
        session: &Session,
        command: Command,
    ) -> ApiResult<Vec<ChatEvent>> {
        let user = &session.user;
        match command {
            Command::Send { body, client_id } => {
                let post = PostMessage { body, client_id };
                post.validate()?;
                let (message, _) =
                    messages::post_message(state, slug, &target.channel, user, &post).await?;
                Ok(vec![ChatEvent::Ack {
                    client_id: message.client_id,
                    seq: message.seq,
                }])
            }
            // Answered by the amendment, which reaches this socket like every entry.
            Command::Edit { seq, body } => {
                let edit = EditMessage { body };
                messages::amend_message(state, &target.channel, user, seq, Amend::Edit(&edit))
                    .await?;
                Ok(Vec::new())
            }
            Command::Delete { seq } => {
                messages::amend_message(state, &target.channel, user, seq, Amend::Delete).await?;
                Ok(Vec::new())
            }
            // Answered by the signal, which this socket gets too.
            Command::Typing => {
                presence::typing(state, slug, user)?;
                Ok(Vec::new())
            }
        }
    }
}

/// Chat's routes: rooms, members, messages, and a room's three streams.
pub fn routes(grip: &GripVerifier) -> Router<AppState> {
    Router::new()
        .route(
            paths::ROOMS.template(),
            get(rooms::list).post(rooms::create),
        )
        .route(paths::ROOM.template(), get(rooms::get))
        .route(paths::ROOM_MEMBERS.template(), post(rooms::add_member))
        .route(paths::ROOM_MEMBER.template(), delete(rooms::remove_member))
        .route(
            paths::ROOM_MESSAGES.template(),
            get(messages::history).post(messages::post),
        )
        .route(
            paths::ROOM_MESSAGE.template(),
            patch(messages::edit).delete(messages::delete),
        )
        .route(
            paths::ROOM_PRESENCE.template(),
            put(presence::heartbeat).delete(presence::leave),
        )
        .route(paths::ROOM_TYPING.template(), post(presence::typing_post))
        .route(paths::ROOM_SEARCH.template(), get(search::search))
        .route(paths::ROOM_READ.template(), put(activity::mark_read))
        .route(
            paths::ACTIVITY.template(),
            get(activity::events)
                .route_layer(middleware::from_fn_with_state(grip.clone(), require_grip)),
        )
        .merge(stream::routes::<Chat>(grip))
}

/// The room, if it exists and `user` may read and post in it.
pub async fn readable_room(store: &Store, slug: &str, user: Uuid) -> ApiResult<RoomRow> {
    store
        .room_for(slug, user)
        .await?
        .ok_or(ApiError::NotFound("room"))
}
