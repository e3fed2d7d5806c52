//! Who may see which room: the one place the origin answers 404 for an unknown room and 403 for
//! a private room the caller is not a member of.

use shared::api::User;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::RoomRow;

/// The room, if it exists.
pub async fn room(state: &AppState, slug: &str) -> ApiResult<RoomRow> {
    state
        .store
        .room_by_slug(slug)
        .await?
        .ok_or(ApiError::NotFound("room"))
}

/// The room, if it exists and `user` may read and post in it.
pub async fn readable_room(state: &AppState, slug: &str, user: &User) -> ApiResult<RoomRow> {
    let room = room(state, slug).await?;
    if state.store.may_access(&room, user.id).await? {
        Ok(room)
    } else {
        Err(ApiError::Forbidden(
            "this room is private and you are not a member",
        ))
    }
}
