//! The core's own routes: accounts and sessions, the health check, the metrics.

pub mod auth;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::state::AppState;

/// `GET /healthz`: the process is up and the database answers.
pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ok" })))
}

/// `GET /metrics`: counters in Prometheus' text format.
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
