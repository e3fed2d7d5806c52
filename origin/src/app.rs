//! The router: the core's routes (health, metrics, accounts), the features' routes (chat, the
//! dashboard) and the layers every request passes through.

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
use shared::paths;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::extract::MAX_JSON_BYTES;
use crate::metrics::Metrics;
use crate::routes;
use crate::state::{AppState, SiteState};

/// How long a request may take, body included, before it is answered 408: every answer here is
/// quick (the long waits of streams and long-polls are Fanout's, not the origin's).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Most requests in progress at once; beyond it, requests are refused with 503 and
/// `Retry-After` at once rather than queued (a client retrying later costs less than a queue
/// no one reads).
const MAX_REQUESTS: usize = 1024;

/// Every route of the origin: the core's, plus `features` (each feature's API and streams,
/// under `/api`); with `frontend`, the browser app is served for all other paths.
pub fn router(
    state: AppState,
    features: Router<AppState>,
    frontend: Option<&std::path::Path>,
) -> Router {
    let api = Router::new()
        .route(paths::REGISTER.template(), post(routes::auth::register))
        .route(paths::LOGIN.template(), post(routes::auth::login))
        .route(paths::TOKEN.template(), post(routes::auth::token))
        .route(paths::LOGOUT.template(), post(routes::auth::logout))
        .route(
            paths::LOGOUT_EVERYWHERE.template(),
            post(routes::auth::logout_everywhere),
        )
        .route(paths::ME.template(), get(routes::auth::me))
        .merge(features)
        // Unknown API paths stay JSON errors even when the app is served for everything else.
        .route(paths::API, any(|| async { ApiError::NoRoute }))
        .route(
            &format!("{}/{{*rest}}", paths::API),
            any(|| async { ApiError::NoRoute }),
        )
        // Every answer is somebody's own data: no cache, shared or not, keeps a copy.
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ));

    let router = Router::new()
        .route(paths::HEALTHZ.template(), get(routes::healthz))
        .route(paths::METRICS.template(), get(routes::metrics))
        .merge(api);
    let router = match frontend {
        Some(dir) => router.merge(crate::frontend::routes(dir)),
        None => router.fallback(|| async { ApiError::NoRoute }),
    };
    router
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            state.site.clone(),
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
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            count_request,
        ))
        .with_state(state)
}

/// Cross-site request forgery stops here (as at the edge): a browser names the page's origin
/// in `Origin` on every write, and on the WebSocket-over-HTTP requests Fanout makes for a
/// socket (they repeat the handshake's headers); only the allowed origins may write. A request
/// without `Origin` does not come from a page.
async fn same_site_writes(State(site): State<SiteState>, request: Request, next: Next) -> Response {
    let reads = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let allowed = reads
        || request.headers().get(ORIGIN).is_none_or(|origin| {
            site.allowed_origins
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
async fn count_request(
    State(metrics): State<std::sync::Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    metrics.requests.inc();
    next.run(request).await
}
