//! `/auth/*`, `/me` and the issuer's `/.well-known` documents.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use innkeeper_identity::api::{
    JwkSet, Login, Logout, OpenIdConfiguration, ProfilePatch, Refresh, Register, TokenPair, User,
};

use super::{AppState, created, versioned};
use crate::auth::Caller;
use crate::extract::{ApiJson, IfMatch, decode_json};
use crate::{API_V1, ApiError, Problem};

/// Opens a guest or hotelier account (admins are created with `innkeeper admin create`).
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "identity",
    request_body(content = Register, content_type = "application/json"),
    responses(
        (status = 201, description = "The new account", body = User, headers(
            ("Location" = String, description = "`/api/v1/me` (after logging in)"),
            ("ETag" = String, description = "The profile's version"),
        )),
        (status = 400, description = "The body is not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid email or name, or a weak password", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<Register>,
) -> Result<Response, ApiError> {
    let user = state.identity.register(request).await?;
    Ok(created(format!("{API_V1}/me"), user.version, user))
}

/// Exchanges email and password for an access token and a refresh token.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "identity",
    request_body(content = Login, content_type = "application/json"),
    responses(
        (status = 200, description = "A token pair", body = TokenPair),
        (status = 401, description = "Invalid email or password (the same answer for both)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<Login>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(state.identity.login(request).await?))
}

/// Exchanges a refresh token for a new pair; the presented token is spent, and presenting a
/// spent token again ends every session of its family.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "identity",
    request_body(content = Refresh, content_type = "application/json"),
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 401, description = "Unknown, expired, spent or revoked refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<Refresh>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(state.identity.refresh(request).await?))
}

/// Ends the session of the given refresh token (its whole family), or every session of the
/// caller when the body is empty.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "identity",
    request_body(content = Option<Logout>, content_type = "application/json"),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    // The body is optional: empty means "every session".
    let request: Logout = if body.iter().all(u8::is_ascii_whitespace) {
        Logout::default()
    } else {
        decode_json(&body)?
    };
    state.identity.logout(&caller, request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's profile.
#[utoipa::path(
    get,
    path = "/me",
    tag = "identity",
    responses(
        (status = 200, description = "The profile", body = User, headers(
            ("ETag" = String, description = "The profile's version, for `If-Match`"),
        )),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let user = state.identity.me(&caller).await?;
    Ok(versioned(StatusCode::OK, user.version, user))
}

/// Changes the caller's profile (name, phone, Telegram chat, notification preferences).
#[utoipa::path(
    patch,
    path = "/me",
    tag = "identity",
    params(("If-Match" = String, Header, description = "The ETag last read, such as `\"3\"`")),
    request_body(content = ProfilePatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed profile", body = User, headers(
            ("ETag" = String, description = "The profile's new version"),
        )),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The profile changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update_me(
    State(state): State<AppState>,
    Caller(caller): Caller,
    IfMatch(version): IfMatch,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<Response, ApiError> {
    let user = state.identity.update_me(&caller, version, patch).await?;
    Ok(versioned(StatusCode::OK, user.version, user))
}

/// The public keys that verify access tokens (RFC 7517).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "identity",
    responses((status = 200, description = "The key set", body = JwkSet))
)]
pub(crate) async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let keys = state.identity.jwks().await?;
    Ok(cacheable(Json(keys)))
}

/// The OpenID provider metadata of the issuer.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "identity",
    responses((status = 200, description = "Issuer metadata", body = OpenIdConfiguration))
)]
pub(crate) async fn openid_configuration(
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let document = state.identity.openid_configuration().await?;
    Ok(cacheable(Json(document)))
}

/// Public documents verifiers may cache briefly (a rotated key must show up soon).
fn cacheable(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=60"),
    );
    response
}
