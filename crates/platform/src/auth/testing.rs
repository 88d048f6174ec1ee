//! Test support (feature `testing`): a local issuer with a fresh Ed25519 key that mints access
//! tokens per the token contract, and a [`Verifier`] trusting it, so tests of services that
//! verify tokens use real, signed tokens rather than a shortcut.
//!
//! ```ignore
//! let issuer = TestIssuer::new();
//! let verifier = Arc::new(issuer.verifier(Arc::new(SystemClock)));
//! let token = issuer.token(&principal);
//! ```

use std::sync::Arc;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use innkeeper_kernel::{Clock, Principal};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{AuthSettings, DEFAULT_AUDIENCE, DEFAULT_ISSUER, FnKeySource, KeySource, Verifier};

/// The lifetime of minted tokens, seconds (the identity service's default).
pub const TOKEN_TTL_SECONDS: i64 = 900;

/// The key id of [`TestIssuer::new`]'s key.
pub const TEST_KID: &str = "test-key-1";

/// The service secret a [`TestIssuer`] accepts when it issues service tokens.
pub const TEST_SERVICE_SECRET: &str = "test-service-secret";

/// A local issuer (`iss` [`DEFAULT_ISSUER`], `aud` [`DEFAULT_AUDIENCE`]) signing with a fresh
/// Ed25519 key.
#[derive(Clone)]
pub struct TestIssuer {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestIssuer {
    /// An issuer with a fresh key named [`TEST_KID`].
    pub fn new() -> Self {
        Self::with_kid(TEST_KID)
    }

    /// An issuer with a fresh key named `kid` (two issuers with the same `kid` forge each
    /// other's tokens: same name, another key).
    ///
    /// # Panics
    /// If the system cannot generate a key (test support only).
    pub fn with_kid(kid: &str) -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generates an Ed25519 key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("parses the new key");
        let jwk = serde_json::from_value(json!({
            "kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        }))
        .expect("a valid JWK");
        Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk,
        }
    }

    /// The published keys.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// A key source handing over [`Self::jwks`] in-process.
    pub fn key_source(&self) -> Arc<dyn KeySource> {
        let jwks = self.jwks();
        Arc::new(FnKeySource::new(move || {
            let jwks = jwks.clone();
            async move { Ok(jwks) }
        }))
    }

    /// A verifier with the default `[auth]` settings trusting this issuer only.
    ///
    /// # Panics
    /// Never with the default settings (test support only).
    pub fn verifier(&self, clock: Arc<dyn Clock>) -> Verifier {
        Verifier::from_settings(&AuthSettings::default(), self.key_source(), clock)
            .expect("default settings are valid")
    }

    /// The claims of an access token for `principal` issued at `now`.
    pub fn claims(&self, principal: &Principal, now: OffsetDateTime) -> Value {
        let now = now.unix_timestamp();
        json!({
            "iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE,
            "sub": principal.user_id.to_string(),
            "iat": now, "nbf": now, "exp": now + TOKEN_TTL_SECONDS,
            "jti": uuid::Uuid::new_v4().to_string(), "role": principal.role.as_str(),
        })
    }

    /// `claims` signed with this issuer's key (EdDSA, with its `kid`).
    ///
    /// # Panics
    /// If the claims do not serialise (test support only).
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signs")
    }

    /// An access token for `principal`, valid now (system time).
    pub fn token(&self, principal: &Principal) -> String {
        self.token_at(principal, OffsetDateTime::now_utc())
    }

    /// An access token for `principal` issued at `now`.
    pub fn token_at(&self, principal: &Principal, now: OffsetDateTime) -> String {
        self.sign(&self.claims(principal, now))
    }
}

/// Issues service tokens as the identity service does: role `service`, for a known service,
/// against [`TEST_SERVICE_SECRET`].
#[async_trait::async_trait]
impl super::ServiceTokenIssuer for TestIssuer {
    async fn issue_service_token(
        &self,
        service: &str,
        secret: &str,
    ) -> innkeeper_kernel::Result<super::IssuedServiceToken> {
        if secret != TEST_SERVICE_SECRET || !innkeeper_kernel::SERVICE_NAMES.contains(&service) {
            return Err(innkeeper_kernel::Error::new(
                innkeeper_kernel::ErrorCode::Unauthenticated,
                "service credentials refused",
            ));
        }
        Ok(super::IssuedServiceToken {
            access_token: self.token(&Principal::service(service)),
            expires_in: std::time::Duration::from_secs(TOKEN_TTL_SECONDS.unsigned_abs()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use innkeeper_kernel::{ErrorCode, Role, SystemClock, UserId};

    use super::*;

    #[tokio::test]
    async fn minted_tokens_verify_and_forged_or_expired_ones_do_not() {
        let issuer = TestIssuer::new();
        let verifier = issuer.verifier(Arc::new(SystemClock));
        let principal = Principal {
            user_id: UserId::new(),
            role: Role::Hotelier,
        };
        assert_eq!(
            verifier.verify(&issuer.token(&principal)).await,
            Ok(principal)
        );

        let forged = TestIssuer::new().token(&principal);
        let expired = issuer.token_at(
            &principal,
            OffsetDateTime::now_utc() - Duration::from_secs(3600),
        );
        for token in [forged, expired] {
            let err = verifier.verify(&token).await.expect_err("refused");
            assert_eq!(err.code, ErrorCode::Unauthenticated);
        }
    }
}
