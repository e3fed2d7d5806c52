//! `/api/rooms/{slug}/messages`: history pages and posting over plain HTTP.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shared::api::{HISTORY_PAGE_MAX, Invalid, MessageResponse, MessagesResponse, PostMessage};

use crate::access;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Query, Slug, ValidJson};
use crate::post::post_message;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only messages with a smaller seq: the page before the oldest one the client has.
    pub before: Option<u64>,
    pub limit: Option<u32>,
}

/// `GET /api/rooms/{slug}/messages?before=SEQ&limit=N`: up to N (default 50, at most 100)
/// messages before SEQ (or the newest), oldest first.
pub async fn history(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Slug(slug): Slug,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<MessagesResponse>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=HISTORY_PAGE_MAX).contains(&limit) {
        return Err(Invalid {
            field: "limit",
            reason: format!("must be between 1 and {HISTORY_PAGE_MAX}"),
        }
        .into());
    }
    let room = access::readable_room(&state, &slug, &user).await?;
    let messages = state
        .store
        .messages_before(&room, query.before, limit)
        .await?;
    Ok(Json(MessagesResponse { messages }))
}

/// `POST /api/rooms/{slug}/messages`: 201 with the new message, or 200 with the one this
/// `client_id` already posted.
pub async fn post(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Slug(slug): Slug,
    ValidJson(post): ValidJson<PostMessage>,
) -> ApiResult<(StatusCode, Json<MessageResponse>)> {
    let room = access::readable_room(&state, &slug, &user).await?;
    let (message, created) = post_message(&state, &room, &user, &post).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(MessageResponse { message })))
}
