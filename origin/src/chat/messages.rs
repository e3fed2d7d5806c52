//! A room's messages: history pages, posting, editing and deleting — over plain HTTP here, and
//! as the WebSocket `send`, `edit` and `delete` commands ([`super::Chat`]); both go through
//! [`post_message`] and [`amend_message`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shared::api::{EditMessage, MessageResponse, PostMessage, User, validate_slug};
use shared::chat::{Change, Message};
use shared::event::Page;
use time::OffsetDateTime;
use uuid::Uuid;

use super::readable_room;
use crate::auth::CurrentUser;
use crate::channel::history::{self, HistoryQuery};
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathOf, Query, Slug, ValidJson};
use crate::limits::Action;
use crate::state::AppState;
use crate::store::Channel;

/// `GET /api/rooms/{slug}/messages?before=SEQ&limit=N`: up to N (default 50, at most 100)
/// messages before SEQ (or the newest), oldest first.
pub async fn history(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Slug(slug): Slug,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<Page<Message>>> {
    let room = readable_room(&state.store, &slug, user.id).await?;
    Ok(Json(
        history::page(&state.store, &room.channel, &query).await?,
    ))
}

/// `POST /api/rooms/{slug}/messages`: 201 with the new message, or 200 with the one this
/// `client_id` already posted.
pub async fn post(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Slug(slug): Slug,
    ValidJson(post): ValidJson<PostMessage>,
) -> ApiResult<(StatusCode, Json<MessageResponse>)> {
    let room = readable_room(&state.store, &slug, user.id).await?;
    let (message, created) = post_message(&state, &slug, &room.channel, &user, &post).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(MessageResponse { message })))
}

/// Appends a message to a room's channel; returns it and whether it is new (`false`: a retry of
/// a `client_id` this author already used, answered with the stored message and not published
/// again).
pub async fn post_message(
    state: &AppState,
    slug: &str,
    channel: &Channel,
    author: &User,
    post: &PostMessage,
) -> ApiResult<(Message, bool)> {
    state.limits.check(Action::Post(author.id))?;
    // One author's `client_id` is one message, however often it is sent.
    let dedupe = format!("{} {}", author.id, post.client_id);
    let appended = state
        .channels
        .append(channel, Some(&dedupe), |seq| Message {
            room: slug.to_owned(),
            seq,
            id: Uuid::new_v4(),
            author: author.name.clone(),
            body: post.body.clone(),
            sent_at: OffsetDateTime::now_utc(),
            client_id: post.client_id.clone(),
            edited_at: None,
            deleted: false,
            amends: None,
        })
        .await?;
    if appended.new {
        state.metrics.posted(slug);
        state
            .activity
            .posted(slug, appended.entry.seq, &author.name);
    }
    Ok((appended.entry, appended.new))
}

/// `PATCH /api/rooms/{slug}/messages/{seq}`: edits one's own message; 200 with its new state.
pub async fn edit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    PathOf((slug, seq)): PathOf<(String, u64)>,
    ValidJson(edit): ValidJson<EditMessage>,
) -> ApiResult<Json<MessageResponse>> {
    validate_slug(&slug)?;
    let room = readable_room(&state.store, &slug, user.id).await?;
    let message = amend_message(&state, &room.channel, &user, seq, Amend::Edit(&edit)).await?;
    Ok(Json(MessageResponse { message }))
}

/// `DELETE /api/rooms/{slug}/messages/{seq}`: deletes one's own message; 200 with its
/// tombstone (again for a message already deleted: a retry changes nothing).
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    PathOf((slug, seq)): PathOf<(String, u64)>,
) -> ApiResult<Json<MessageResponse>> {
    validate_slug(&slug)?;
    let room = readable_room(&state.store, &slug, user.id).await?;
    let message = amend_message(&state, &room.channel, &user, seq, Amend::Delete).await?;
    Ok(Json(MessageResponse { message }))
}

/// What the author does to a message.
#[derive(Clone, Copy)]
pub enum Amend<'a> {
    Edit(&'a EditMessage),
    Delete,
}

/// Edits or deletes message `seq` of the room, if `author` wrote it; returns its new state.
/// Refused with nothing written: someone else's message (403), an amendment or no message at
/// `seq` (404), an edit of a deleted message (409). Deleting a deleted message answers its
/// tombstone and appends nothing.
pub async fn amend_message(
    state: &AppState,
    channel: &Channel,
    author: &User,
    seq: u64,
    amend: Amend<'_>,
) -> ApiResult<Message> {
    state.limits.check(Action::Post(author.id))?;
    if let Amend::Edit(edit) = amend {
        edit.validate()?;
    }
    let mut unchanged = None;
    let amended = state
        .channels
        .amend(
            channel,
            seq,
            |message: Message| {
                if message.amends.is_some() {
                    return Err(ApiError::NotFound("message"));
                }
                if message.author != author.name {
                    return Err(ApiError::Forbidden(
                        "only its author edits or deletes a message",
                    ));
                }
                match (amend, message.deleted) {
                    // Refused so that nothing is written; answered with the tombstone below.
                    (Amend::Delete, true) => {
                        unchanged = Some(message);
                        Err(ApiError::Conflict("already deleted"))
                    }
                    (Amend::Edit(_), true) => Err(ApiError::Conflict("the message was deleted")),
                    (Amend::Edit(edit), false) => {
                        Ok(message.edited(&edit.body, OffsetDateTime::now_utc()))
                    }
                    (Amend::Delete, false) => Ok(message.deleted()),
                }
            },
            Message::amendment,
        )
        .await;
    if let Some(tombstone) = unchanged {
        return Ok(tombstone);
    }
    let amendment = amended?.ok_or(ApiError::NotFound("message"))?;
    let (Change::Amend(message) | Change::New(message)) = amendment.change();
    Ok(message)
}
