//! Request extractors whose rejections are [`ApiError`]s, so a malformed body, query or path
//! gets the same JSON error shape as everything else (axum's own answer in plain text).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use shared::api::{
    self, AddMember, CreateRoom, Credentials, EditMessage, Invalid, MarkRead, PostMessage,
};

use crate::error::ApiError;

/// Largest JSON body any endpoint accepts; a message body is at most 4,000 characters.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Request bodies that check their own fields (the rules live in `shared`, so the frontend
/// applies the same ones before sending).
pub trait Validate {
    fn validate(&self) -> Result<(), Invalid>;
}

impl Validate for Credentials {
    fn validate(&self) -> Result<(), Invalid> {
        Credentials::validate(self)
    }
}
impl Validate for CreateRoom {
    fn validate(&self) -> Result<(), Invalid> {
        CreateRoom::validate(self)
    }
}
impl Validate for AddMember {
    fn validate(&self) -> Result<(), Invalid> {
        AddMember::validate(self)
    }
}
impl Validate for PostMessage {
    fn validate(&self) -> Result<(), Invalid> {
        PostMessage::validate(self)
    }
}
/// Any seq is well-formed; whether the room has it is the handler's question.
impl Validate for MarkRead {
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
}
impl Validate for EditMessage {
    fn validate(&self) -> Result<(), Invalid> {
        EditMessage::validate(self)
    }
}

/// A JSON body that parsed and passed [`Validate`].
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let value = match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(JsonRejection::JsonDataError(e)) => return Err(ApiError::BadShape(e.body_text())),
            Err(JsonRejection::JsonSyntaxError(e)) => return Err(ApiError::BadJson(e.body_text())),
            Err(JsonRejection::MissingJsonContentType(_)) => return Err(ApiError::NotJson),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::TooLarge(MAX_JSON_BYTES));
            }
            Err(e) => return Err(ApiError::BadJson(e.body_text())),
        };
        value.validate()?;
        Ok(ValidJson(value))
    }
}

/// A query string that parsed into `T`.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| ApiError::BadQuery(e.body_text()))
    }
}

/// The parameters of a path (`/{slug}/members/{name}`), parsed into `T`.
pub struct PathOf<T>(pub T);

impl<S, T> FromRequestParts<S> for PathOf<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| PathOf(v))
            .map_err(|e| ApiError::BadQuery(e.body_text()))
    }
}

/// The `{slug}` of a room path, checked against the slug rules.
pub struct Slug(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Slug {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let PathOf(slug) = PathOf::<String>::from_request_parts(parts, state).await?;
        api::validate_slug(&slug)?;
        Ok(Slug(slug))
    }
}

/// The address of the client: the first `X-Forwarded-For` entry, which the edge sets (and a
/// client cannot: the edge removes its copy), else the peer of the connection. The origin must
/// therefore be reachable only through the edge and Fanout (SECURITY.md).
pub struct ClientAddress(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|first| first.trim().parse().ok());
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        forwarded
            .or(peer)
            .map(ClientAddress)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no client address")))
    }
}
