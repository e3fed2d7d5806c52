//! `/api/rooms`: list, create, invite.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shared::api::{AddMember, CreateRoom, Room, RoomResponse, RoomsResponse};

use crate::access;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Slug, ValidJson};
use crate::store::StoreError;

/// `GET /api/rooms`: public rooms and the private rooms the caller belongs to.
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<RoomsResponse>> {
    let rooms = state.store.rooms_visible_to(user.id).await?;
    Ok(Json(RoomsResponse { rooms }))
}

/// `POST /api/rooms`: 201 with the room; the creator owns it and is its first member.
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ValidJson(new): ValidJson<CreateRoom>,
) -> ApiResult<(StatusCode, Json<RoomResponse>)> {
    let room = Room {
        slug: new.slug,
        title: new.title.trim().to_owned(),
        private: new.private,
    };
    let created = match state.store.create_room(&room, user.id).await {
        Err(StoreError::Conflict) => return Err(ApiError::Conflict("that slug is taken")),
        other => other?,
    };
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
    let room = access::room(&state, &slug).await?;
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
    Ok(StatusCode::NO_CONTENT)
}
