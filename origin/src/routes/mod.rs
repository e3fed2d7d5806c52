//! The JSON API: accounts, rooms, history and posting.

pub mod auth;
pub mod messages;
pub mod rooms;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::ApiResult;

/// `GET /healthz`: the process is up and the database answers.
pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ok" })))
}
