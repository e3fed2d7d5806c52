//! `/api/rooms`: list, look up, create; add and remove members of private rooms.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shared::api::{
    AddMember, CreateRoom, Invalid, ROOMS_PAGE_MAX, Room, RoomResponse, RoomsResponse,
    validate_slug, validate_user_name,
};

use super::{activity, readable_room};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathOf, Query, Slug, ValidJson};
use crate::limits::Action;
use crate::revoke::end_member_streams;
use crate::state::AppState;
use crate::store::StoreError;
use shared::chat::{Activity, ROOMS_CHANNEL, user_activity_channel};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The last slug of the previous page (its `next`).
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// `GET /api/rooms?after=SLUG&limit=N`: up to N (default and most 100) of the public rooms and
/// the private rooms the caller belongs to, by slug, with the caller's unread counts; `next`
/// when there are more.
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<RoomsResponse>> {
    let limit = query.limit.unwrap_or(ROOMS_PAGE_MAX);
    if !(1..=ROOMS_PAGE_MAX).contains(&limit) {
        return Err(Invalid {
            field: "limit",
            reason: format!("must be between 1 and {ROOMS_PAGE_MAX}"),
        }
        .into());
    }
    let after = query.after.unwrap_or_default();
    if !after.is_empty() {
        validate_slug(&after)?;
    }
    // One more than asked tells whether another page follows.
    let mut rooms = state
        .store
        .rooms_with_unread((user.id, &user.name), &after, limit + 1)
        .await?;
    let next = (rooms.len() > limit as usize).then(|| {
        rooms.truncate(limit as usize);
        rooms.last().map(|r| r.slug.clone()).unwrap_or_default()
    });
    Ok(Json(RoomsResponse { rooms, next }))
}

/// `GET /api/rooms/{slug}`: one room the caller may see (404 for any other).
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Slug(slug): Slug,
) -> ApiResult<Json<RoomResponse>> {
    let room = readable_room(&state.store, &slug, user.id).await?;
    Ok(Json(RoomResponse { room: room.room }))
}

/// `POST /api/rooms`: 201 with the room; the creator owns it and is its first member.
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ValidJson(new): ValidJson<CreateRoom>,
) -> ApiResult<(StatusCode, Json<RoomResponse>)> {
    state.limits.check(Action::CreateRoom(user.id))?;
    let room = Room {
        slug: new.slug,
        title: new.title.trim().to_owned(),
        private: new.private,
        unread: None,
    };
    let created = match state.store.create_room(&room, user.id).await {
        Err(StoreError::Conflict) => return Err(ApiError::Conflict("that slug is taken")),
        other => other?,
    };
    if !created.room.private {
        activity::publish(&state.channels.publisher, ROOMS_CHANNEL, &Activity::Rooms);
    }
    Ok((
        StatusCode::CREATED,
        Json(RoomResponse { room: created.room }),
    ))
}

/// `POST /api/rooms/{slug}/members`: the owner of a private room adds someone by name.
pub async fn add_member(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Slug(slug): Slug,
    ValidJson(member): ValidJson<AddMember>,
) -> ApiResult<StatusCode> {
    let room = readable_room(&state.store, &slug, user.id).await?;
    if !room.room.private || room.owner_id != user.id {
        return Err(ApiError::Forbidden(
            "only the owner of a private room can add members",
        ));
    }
    let invitee = state
        .store
        .user_by_name(&member.name)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    state.store.add_member(&room, invitee.user.id).await?;
    let theirs = user_activity_channel(&invitee.user.id);
    activity::publish(&state.channels.publisher, &theirs, &Activity::Rooms);
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/rooms/{slug}/members/{name}`: the owner of a private room removes a member, or
/// a member leaves (their own name). Their open streams in the room end at once.
pub async fn remove_member(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    PathOf((slug, name)): PathOf<(String, String)>,
) -> ApiResult<StatusCode> {
    validate_slug(&slug)?;
    validate_user_name(&name)?;
    let room = readable_room(&state.store, &slug, user.id).await?;
    if !room.room.private {
        return Err(ApiError::Conflict("a public room has no members to remove"));
    }
    let member = state
        .store
        .user_by_name(&name)
        .await?
        .ok_or(ApiError::NotFound("member"))?
        .user;
    let leaving = member.id == user.id;
    if !leaving && room.owner_id != user.id {
        return Err(ApiError::Forbidden(
            "only the owner removes others; anyone may leave",
        ));
    }
    if member.id == room.owner_id {
        return Err(ApiError::Conflict("the owner of a room cannot leave it"));
    }
    if !state.store.remove_member(&room, member.id).await? {
        return Err(ApiError::NotFound("member"));
    }
    end_member_streams(&state.channels.publisher, &slug, &member.id);
    Ok(StatusCode::NO_CONTENT)
}
