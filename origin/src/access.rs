//! Who may see which room: the one place the origin decides it. A private room the caller is not
//! a member of is answered exactly like a room that does not exist (404), so that strangers
//! cannot find out which private rooms there are.

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
        Err(ApiError::NotFound("room"))
    }
}
