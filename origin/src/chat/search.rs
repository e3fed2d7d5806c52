//! `GET /api/rooms/{slug}/search`: a room's messages that have every word of a query, newest
//! first, a page at a time. Only readers of the room may search it (a private room is a 404 to
//! strangers, like everything else about it).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::api::{Invalid, SEARCH_PAGE_MAX, SearchResponse, search_words};
use shared::chat::Message;

use super::readable_room;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{Query, Slug};
use crate::limits::Action;
use crate::state::AppState;

/// Results in a page unless `limit` says otherwise.
const SEARCH_PAGE_DEFAULT: u32 = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub q: String,
    /// The `next` of the previous page: results older than this seq.
    pub before: Option<u64>,
    pub limit: Option<u32>,
}

pub async fn search(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Slug(slug): Slug,
    Query(query): Query<SearchQuery>,
) -> ApiResult<Json<SearchResponse>> {
    let words = search_words(&query.q)?;
    let limit = query.limit.unwrap_or(SEARCH_PAGE_DEFAULT);
    if !(1..=SEARCH_PAGE_MAX).contains(&limit) {
        return Err(Invalid {
            field: "limit",
            reason: format!("must be between 1 and {SEARCH_PAGE_MAX}"),
        }
        .into());
    }
    state.limits.check(Action::Search(user.id))?;
    let room = readable_room(&state.store, &slug, user.id).await?;
    // One more than asked tells whether an older page follows.
    let mut messages: Vec<Message> = state
        .store
        .search(room.channel.id, &words, query.before, limit + 1)
        .await?;
    let next = (messages.len() > limit as usize).then(|| {
        messages.truncate(limit as usize);
        messages.last().map_or(0, |m| m.seq)
    });
    Ok(Json(SearchResponse { messages, next }))
}
