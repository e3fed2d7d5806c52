//! `/api/auth/*` and `/api/me`: sign up, sign in (a browser's cookie, or a script's token),
//! sign out (here, or everywhere), who am I.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum_extra::extract::cookie::CookieJar;
use shared::api::{Credentials, TokenResponse, User, UserResponse};

use crate::auth::{CurrentSession, CurrentUser, authenticate, hash_password, verify_password};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddress, ValidJson};
use crate::limits::Action;
use crate::revoke::end_session_streams;
use crate::state::AppState;
use crate::store::StoreError;

/// `POST /api/auth/register`: 201 with the user and a session cookie; 409 if the name is taken
/// (in any case).
pub async fn register(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    jar: CookieJar,
    ValidJson(credentials): ValidJson<Credentials>,
) -> ApiResult<impl IntoResponse> {
    state.limits.check(Action::SignIn {
        address,
        name: &credentials.name,
    })?;
    let hash = hash_password(&state.limits, credentials.password).await?;
    let user = match state.store.create_user(&credentials.name, &hash).await {
        Err(StoreError::Conflict) => return Err(ApiError::Conflict("that name is taken")),
        other => other?,
    };
    let token = state.auth.sessions.start(&state.store, &user).await?;
    Ok((
        StatusCode::CREATED,
        jar.add(state.auth.sessions.cookie(token)),
        Json(UserResponse { user }),
    ))
}

/// `POST /api/auth/login`: 200 with the user and a session cookie (HttpOnly: the page's
/// scripts never see the token).
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    jar: CookieJar,
    ValidJson(credentials): ValidJson<Credentials>,
) -> ApiResult<impl IntoResponse> {
    let user = check_password(&state, address, credentials).await?;
    let token = state.auth.sessions.start(&state.store, &user).await?;
    Ok((
        jar.add(state.auth.sessions.cookie(token)),
        Json(UserResponse { user }),
    ))
}

/// `POST /api/auth/token`: 200 with the user and a session token, and no cookie: for scripts
/// and tests, which send it as `Authorization: Bearer`. The browser app never calls this.
pub async fn token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ValidJson(credentials): ValidJson<Credentials>,
) -> ApiResult<Json<TokenResponse>> {
    let user = check_password(&state, address, credentials).await?;
    let token = state.auth.sessions.start(&state.store, &user).await?;
    Ok(Json(TokenResponse { user, token }))
}

/// The user whose name and password these are; counted against the sign-in limits.
async fn check_password(
    state: &AppState,
    address: std::net::IpAddr,
    credentials: Credentials,
) -> ApiResult<User> {
    state.limits.check(Action::SignIn {
        address,
        name: &credentials.name,
    })?;
    let stored = state.store.user_by_name(&credentials.name).await?;
    let hash = stored.as_ref().map(|row| row.password_hash.clone());
    if !verify_password(&state.limits, credentials.password, hash).await? {
        return Err(ApiError::BadCredentials);
    }
    Ok(stored.expect("a verified password has a user").user)
}

/// `POST /api/auth/logout`: 204; the session ends (its token is refused from now on, its open
/// streams end) and the cookie is cleared. Signing out without a live session just clears it.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> ApiResult<impl IntoResponse> {
    if let Ok(session) = authenticate(&state, &headers).await {
        state.store.end_session(session.sid).await?;
        end_session_streams(
            &state.channels.publisher,
            &state.auth.capabilities,
            &session.sid,
        );
    }
    Ok((
        StatusCode::NO_CONTENT,
        jar.add(state.auth.sessions.removal_cookie()),
    ))
}

/// `POST /api/auth/logout-everywhere`: 204; every session of the caller ends, on every device.
pub async fn logout_everywhere(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
    jar: CookieJar,
) -> ApiResult<impl IntoResponse> {
    for sid in state.store.end_sessions_of(session.user.id).await? {
        end_session_streams(&state.channels.publisher, &state.auth.capabilities, &sid);
    }
    Ok((
        StatusCode::NO_CONTENT,
        jar.add(state.auth.sessions.removal_cookie()),
    ))
}

/// `GET /api/me`.
pub async fn me(CurrentUser(user): CurrentUser) -> Json<UserResponse> {
    Json(UserResponse { user })
}
