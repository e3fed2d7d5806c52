//! Every way a request can fail, and the one place where each becomes an HTTP status and the
//! contract's JSON error body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::api::{ErrorBody, ErrorCode, Invalid};

use crate::store::StoreError;

/// An API failure. Variants are the caller's mistakes (4xx, with a message meant for them)
/// except [`ApiError::Internal`], which is logged in full and answered with a generic 500.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("the request body is not valid JSON: {0}")]
    BadJson(String),
    #[error("the request body does not have the expected fields: {0}")]
    BadShape(String),
    #[error("send the body as JSON with Content-Type: application/json")]
    NotJson,
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("too large once encoded for subscribers ({0} bytes; Fanout takes at most 65,536)")]
    EntryTooLarge(usize),
    #[error("bad query string: {0}")]
    BadQuery(String),
    #[error("bad event id {0:?}: expected a message seq (a whole number)")]
    BadCursor(String),
    #[error("bad WebSocket-over-HTTP body: {0}")]
    BadWebSocketEvents(String),
    #[error("sign in first")]
    Unauthenticated,
    #[error("this session has ended (signed out); sign in again")]
    SessionEnded,
    #[error("the session cookie and the Authorization header disagree; send one of them")]
    ConflictingCredentials,
    #[error("requests that change something must come from this site's own pages")]
    BadOrigin,
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the origin is busy; try again in a moment")]
    Overloaded,
    #[error("the request took too long to arrive")]
    RequestTimeout,
    #[error("wrong name or password")]
    BadCredentials,
    #[error(
        "this endpoint is reached through Fanout/Pushpin only: the Grip-Sig header is missing or invalid"
    )]
    NotViaGrip,
    #[error("the next-link capability is missing, forged or expired")]
    BadCapability,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("no route for this path")]
    NoRoute,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use ApiError::*;
        use ErrorCode as Code;
        match self {
            Invalid(_) | BadShape(_) => (StatusCode::UNPROCESSABLE_ENTITY, Code::Invalid),
            BadJson(_) => (StatusCode::BAD_REQUEST, Code::BadJson),
            NotJson => (StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::NotJson),
            TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, Code::TooLarge),
            EntryTooLarge(_) => (StatusCode::UNPROCESSABLE_ENTITY, Code::TooLarge),
            BadQuery(_) => (StatusCode::BAD_REQUEST, Code::BadQuery),
            BadCursor(_) => (StatusCode::BAD_REQUEST, Code::BadCursor),
            BadWebSocketEvents(_) => (StatusCode::BAD_REQUEST, Code::BadWebsocketEvents),
            Unauthenticated | SessionEnded | ConflictingCredentials => {
                (StatusCode::UNAUTHORIZED, Code::Unauthenticated)
            }
            BadOrigin => (StatusCode::FORBIDDEN, Code::BadOrigin),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, Code::RateLimited),
            Overloaded => (StatusCode::SERVICE_UNAVAILABLE, Code::Overloaded),
            RequestTimeout => (StatusCode::REQUEST_TIMEOUT, Code::Timeout),
            BadCredentials => (StatusCode::UNAUTHORIZED, Code::BadCredentials),
            NotViaGrip => (StatusCode::FORBIDDEN, Code::NotViaGrip),
            BadCapability => (StatusCode::FORBIDDEN, Code::BadCapability),
            Forbidden(_) => (StatusCode::FORBIDDEN, Code::Forbidden),
            NotFound(_) => (StatusCode::NOT_FOUND, Code::NotFound),
            Conflict(_) => (StatusCode::CONFLICT, Code::Conflict),
            NoRoute => (StatusCode::NOT_FOUND, Code::NoRoute),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, Code::MethodNotAllowed),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, Code::Internal),
        }
    }

    /// The contract's error body, e.g. for an error frame on a WebSocket.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.status_and_code().1, self.to_string())
    }

    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::TooLarge(bytes) => ApiError::EntryTooLarge(bytes),
            err => ApiError::Internal(err.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(err) = &self {
            // The whole cause chain goes to the log; the client learns only that it failed.
            tracing::error!(error = format!("{err:#}"), "request failed");
        }
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Overloaded => Some(1),
            _ => None,
        };
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
