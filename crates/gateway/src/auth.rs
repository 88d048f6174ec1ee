//! Who is calling: the one place the gateway decides the caller of a request.
//!
//! `authenticate` runs on every request before the rate limiter: a request with an
//! `Authorization: Bearer` access token has it verified (signature, `iss`, `aud`, `exp`, `nbf`,
//! pinned algorithms; see `innkeeper_platform::auth`) and carries the verified principal in its
//! extensions; a bad token is answered with 401 at once, never treated as anonymous. A request
//! without the header is anonymous: public reads work, and [`Caller`] refuses the rest with 401.
//! A token of role `service` (a platform service's own) is refused with 401 on every route.
//!
//! The verified token also travels on with the request (`platform::auth::credential`), so a
//! service reached over gRPC receives the original token and verifies it again itself (cheaply:
//! each verifier remembers the tokens it verified in the last minute). A service in the same
//! process is handed the verified principal and verifies nothing: one verification a request.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, header};
use innkeeper_kernel::{Error, ErrorCode, Principal};
use innkeeper_platform::auth::{AuthenticatedPrincipal, Verifier, bearer_token, credential};

use crate::ApiError;

/// Verifies the bearer token of a request, if it has one (see the module documentation).
pub(crate) async fn authenticate(
    State(verifier): State<Arc<Verifier>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return next.run(request).await;
    };
    // One copy of the token, shared with the credential scope below.
    let token: Arc<str> = match value.to_str().ok().and_then(bearer_token) {
        Some(token) => token.into(),
        None => {
            return unauthenticated("the Authorization header must be `Bearer <access token>`");
        }
    };
    match verifier.verify(&token).await {
        // A platform service's token is for calls between services, never for the public API:
        // whoever holds one (it leaked, or a service misuses it) is no user of the API.
        Ok(principal) if principal.is_service() => {
            unauthenticated("service tokens are not accepted by the public API")
        }
        Ok(principal) => {
            request
                .extensions_mut()
                .insert(AuthenticatedPrincipal(principal));
            let mut response = credential::scope(token, next.run(request)).await;
            // For the access log (`platform::http::track_requests`): the id, never the token.
            response
                .extensions_mut()
                .insert(AuthenticatedPrincipal(principal));
            response
        }
        Err(err) if err.code == ErrorCode::Unauthenticated => challenge(ApiError(err)),
        Err(err) => ApiError(err).into_response(),
    }
}

/// A 401 with the `WWW-Authenticate` challenge of RFC 6750.
fn unauthenticated(message: &str) -> Response {
    challenge(ApiError(Error::new(ErrorCode::Unauthenticated, message)))
}

fn challenge(err: ApiError) -> Response {
    let mut response = err.into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"innkeeper\""),
    );
    response
}

/// The authenticated caller of a request, as an extractor: 401 when the request has no
/// (valid) access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<AuthenticatedPrincipal>() {
            Some(AuthenticatedPrincipal(principal)) => Ok(Caller(*principal)),
            None => Err(unauthenticated(
                "this request needs `Authorization: Bearer <access token>` (POST /api/v1/auth/login)",
            )),
        }
    }
}
