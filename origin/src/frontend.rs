//! The browser app's files (trunk's `dist/`): served for every path the API does not own, with
//! `index.html` for client-side routes such as `/rooms/lobby`, so a reload or a shared link works.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get_service;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::ApiError;
use crate::state::AppState;

/// A router that answers GET and HEAD from `dir`, and anything else with a JSON 405.
pub fn routes(dir: &Path) -> Router<AppState> {
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    Router::new()
        .fallback_service(get_service(files).fallback(|| async { ApiError::MethodNotAllowed }))
        .layer(middleware::from_fn(cache_policy))
}

/// Trunk puts a content hash in every asset's name, so assets never change and may be cached
/// for good; the HTML names the current ones, so it must be revalidated every time.
async fn cache_policy(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let policy = if html || !response.status().is_success() {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}
