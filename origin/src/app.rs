//! The application: its shared state and the router that maps every path to a handler.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, ORIGIN};
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Sessions;
use crate::capability::Capabilities;
use crate::error::ApiError;
use crate::extract::MAX_JSON_BYTES;
use crate::grip::GripVerifier;
use crate::heads::Heads;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::post::RoomLocks;
use crate::publish::Publisher;
use crate::store::Store;
use crate::{routes, stream};

/// Largest WebSocket-over-HTTP request: the proxy may batch several client frames in one.
const MAX_WS_EVENTS_BYTES: usize = 1024 * 1024;

/// How long a request may take, body included, before it is answered 408: every answer here is
/// quick (the long waits of streams and long-polls are Fanout's, not the origin's).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Most requests in progress at once; beyond it, requests are refused with 503 and
/// `Retry-After` at once rather than queued (a client retrying later costs less than a queue
/// no one reads).
const MAX_REQUESTS: usize = 1024;

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
    pub limits: Limits,
    /// Origins whose pages may write to the API (`config::Site`).
    pub allowed_origins: Arc<[String]>,
    pub poll_timeout: Duration,
    pub replay_page: u32,
}

/// Every route of the origin; with `frontend`, the browser app is served for all other paths.
pub fn router(state: AppState, frontend: Option<&std::path::Path>) -> Router {
    let api = Router::new()
        .route("/auth/register", post(routes::auth::register))
        .route("/auth/login", post(routes::auth::login))
        .route("/auth/token", post(routes::auth::token))
        .route("/auth/logout", post(routes::auth::logout))
        .route(
            "/auth/logout-everywhere",
            post(routes::auth::logout_everywhere),
        )
        .route("/me", get(routes::auth::me))
        .route(
            "/rooms",
            get(routes::rooms::list).post(routes::rooms::create),
        )
        .route("/rooms/{slug}", get(routes::rooms::get))
        .route("/rooms/{slug}/members", post(routes::rooms::add_member))
        .route(
            "/rooms/{slug}/members/{name}",
            axum::routing::delete(routes::rooms::remove_member),
        )
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
        .fallback(|| async { ApiError::NoRoute })
        // Every answer is somebody's own data: no cache, shared or not, keeps a copy.
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ));

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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            same_site_writes,
        ))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(RequestBodyTimeoutLayer::new(BODY_TIMEOUT))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|err: tower::BoxError| async move {
                    if err.is::<tower::timeout::error::Elapsed>() {
                        ApiError::RequestTimeout
                    } else if err.is::<tower::load_shed::error::Overloaded>() {
                        ApiError::Overloaded
                    } else {
                        ApiError::Internal(anyhow::anyhow!(err))
                    }
                }))
                .load_shed()
                .concurrency_limit(MAX_REQUESTS)
                .timeout(REQUEST_TIMEOUT),
        )
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .with_state(state)
}

/// Cross-site request forgery stops here (as at the edge): a browser names the page's origin
/// in `Origin` on every write, and on the WebSocket-over-HTTP requests Fanout makes for a
/// socket (they repeat the handshake's headers); only the allowed origins may write. A request
/// without `Origin` does not come from a page.
async fn same_site_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let reads = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let allowed = reads
        || request.headers().get(ORIGIN).is_none_or(|origin| {
            state
                .allowed_origins
                .iter()
                .any(|allowed| origin.as_bytes() == allowed.as_bytes())
        });
    if allowed {
        next.run(request).await
    } else {
        ApiError::BadOrigin.into_response()
    }
}

/// Counts every request, before anything can refuse it.
async fn count_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.metrics.requests.inc();
    next.run(request).await
}
