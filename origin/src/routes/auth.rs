//! `/api/auth/*` and `/api/me`: sign up, sign in, sign out, who am I.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_extra::extract::cookie::CookieJar;
use shared::api::{Credentials, LoginResponse, UserResponse};

use crate::app::AppState;
use crate::auth::{CurrentUser, Sessions, hash_password, verify_password};
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidJson;
use crate::store::StoreError;

/// `POST /api/auth/register`: 201 with the user and a session cookie; 409 if the name is taken.
pub async fn register(
    State(state): State<AppState>,
    jar: CookieJar,
    ValidJson(credentials): ValidJson<Credentials>,
) -> ApiResult<impl IntoResponse> {
    let hash = hash_password(credentials.password).await?;
    let user = match state.store.create_user(&credentials.name, &hash).await {
        Err(StoreError::Conflict) => return Err(ApiError::Conflict("that name is taken")),
        other => other?,
    };
    let token = state.sessions.issue(&user)?;
    Ok((
        StatusCode::CREATED,
        jar.add(Sessions::cookie(token)),
        Json(UserResponse { user }),
    ))
}

/// `POST /api/auth/login`: 200 with the user, the token (for scripts) and a session cookie.
pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    ValidJson(credentials): ValidJson<Credentials>,
) -> ApiResult<impl IntoResponse> {
    let stored = state.store.user_by_name(&credentials.name).await?;
    let hash = stored.as_ref().map(|row| row.password_hash.clone());
    if !verify_password(credentials.password, hash).await? {
        return Err(ApiError::BadCredentials);
    }
    let user = stored.expect("a verified password has a user").user;
    let token = state.sessions.issue(&user)?;
    Ok((
        jar.add(Sessions::cookie(token.clone())),
        Json(LoginResponse { user, token }),
    ))
}

/// `POST /api/auth/logout`: 204 and the cookie cleared.
pub async fn logout(jar: CookieJar) -> impl IntoResponse {
    (StatusCode::NO_CONTENT, jar.add(Sessions::removal_cookie()))
}

/// `GET /api/me`.
pub async fn me(CurrentUser(user): CurrentUser) -> Json<UserResponse> {
    Json(UserResponse { user })
}
