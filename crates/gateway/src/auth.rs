//! Who is calling: the one place the gateway decides the caller of a request.
//!
//! Until the identity service exists every request acts as [`Principal::DEVELOPMENT`], the
//! hotelier who owns the demo hotels. Identity will replace [`Caller`]'s extractor with one that
//! verifies the `Authorization: Bearer` access token (401 when missing or invalid) and builds the
//! principal from its claims; handlers and the catalog's ownership checks stay as they are.

use axum::extract::FromRequestParts;
use http::request::Parts;
use innkeeper_kernel::Principal;

/// The caller of a request, as an extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Development stand-in: identity will verify the bearer token here instead.
        Ok(Caller(Principal::DEVELOPMENT))
    }
}
