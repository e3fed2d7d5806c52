//! The application: its shared state and the router that maps every path to a handler.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Sessions;
use crate::capability::Capabilities;
use crate::error::ApiError;
use crate::extract::MAX_JSON_BYTES;
use crate::grip::GripVerifier;
use crate::heads::Heads;
use crate::metrics::Metrics;
use crate::post::RoomLocks;
use crate::publish::Publisher;
use crate::store::Store;
use crate::{routes, stream};

/// Largest WebSocket-over-HTTP request: the proxy may batch several client frames in one.
const MAX_WS_EVENTS_BYTES: usize = 1024 * 1024;

/// What every handler can reach. Cloning is cheap; nothing in here is per-connection state.
#[derive(Clone)]
pub struct AppState {
    pub metrics: Arc<Metrics>,
    pub store: Store,
    pub sessions: Sessions,
    pub capabilities: Capabilities,
    pub grip: GripVerifier,
    pub publisher: Publisher,
    pub heads: Heads,
    pub room_locks: Arc<RoomLocks>,
    pub poll_timeout: Duration,
    pub replay_page: u32,
}

/// Every route of the origin; with `frontend`, the browser app is served for all other paths.
pub fn router(state: AppState, frontend: Option<&std::path::Path>) -> Router {
    let api = Router::new()
        .route("/auth/register", post(routes::auth::register))
        .route("/auth/login", post(routes::auth::login))
        .route("/auth/logout", post(routes::auth::logout))
        .route("/me", get(routes::auth::me))
        .route(
            "/rooms",
            get(routes::rooms::list).post(routes::rooms::create),
        )
        .route("/rooms/{slug}/members", post(routes::rooms::add_member))
        .route(
            "/rooms/{slug}/messages",
            get(routes::messages::history).post(routes::messages::post),
        )
        .route("/rooms/{slug}/events", get(stream::events::events))
        .route("/rooms/{slug}/poll", get(stream::poll::poll))
        .route(
            "/rooms/{slug}/ws",
            // `any`: a client that tries a plain WebSocket upgrade here is told it must come
            // through the proxy, rather than getting a bare 405.
            any(stream::ws::ws).layer(DefaultBodyLimit::max(MAX_WS_EVENTS_BYTES)),
        )
        // Unknown API paths stay JSON errors even when the app is served for everything else.
        .fallback(|| async { ApiError::NoRoute });

    let router = Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .nest("/api", api);
    let router = match frontend {
        Some(dir) => router.merge(crate::frontend::routes(dir)),
        None => router.fallback(|| async { ApiError::NoRoute }),
    };
    router
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal(anyhow::anyhow!(
                "handler panicked"
            )))
        }))
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .with_state(state)
}

/// Counts every request, before anything can refuse it.
async fn count_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.metrics.requests.inc();
    next.run(request).await
}
