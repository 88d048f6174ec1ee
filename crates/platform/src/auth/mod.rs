//! Access-token verification, used by the gateway and by every service (issue 3,
//! "Verification everywhere").
//!
//! - [`Verifier`]: checks a bearer token against the [`TrustedIssuer`]s (the local identity
//!   service, EdDSA; external OpenID issuers, RS256 by default) and yields the [`Principal`].
//! - [`KeySource`]: where an issuer's public keys come from: [`HttpKeySource`] (a JWKS URL) or
//!   [`FnKeySource`] (in-process, the embedded shape). Keys are cached per `kid`; an unknown
//!   `kid` triggers a refetch, at most one per issuer per `jwks_refetch_seconds`.
//! - The verifier's cache of verified tokens (`verified_token_cache_size`): a token seen again
//!   within a minute, still inside its `nbf`..`exp` window and with its key still published, is
//!   answered without a second signature check.
//! - [`ServiceCredential`]: a service's own token (role `service`), for calls it makes on its
//!   own behalf (the booking saga's holds), from the identity service.
//! - [`AuthSettings`]: the `[auth]` configuration.
//! - [`AuthenticatedPrincipal`]: the request extension an edge layer inserts once the token of a
//!   request verified, read by later layers (rate limiting per principal) and handlers.

pub mod credential;
mod keys;
mod service;
mod settings;
mod verified;
mod verifier;

#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;

use innkeeper_kernel::Principal;

pub use keys::{FnKeySource, HttpKeySource, KeySource, lenient_jwk_set};
pub use service::{IssuedServiceToken, ServiceCredential, ServiceTokenIssuer};
pub use settings::{
    AuthSettings, DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_VERIFIED_TOKEN_CACHE_SIZE,
    ExternalIssuerSettings,
};
pub use verifier::{TrustedIssuer, Verifier, external_user_id};

/// The verified caller of an HTTP request, as a request extension.
///
/// Inserted only after [`Verifier::verify`] accepted the request's bearer token; its absence
/// means an anonymous request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatedPrincipal(pub Principal);

/// The token of an `Authorization: Bearer <token>` header value, if it is one.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
