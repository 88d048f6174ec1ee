//! Signing keys and access tokens.
//!
//! Keys are Ed25519 pairs generated with aws-lc-rs and kept as PKCS#8 v2 DER in the identity
//! store. Tokens follow the shared access-token contract: a JWT with header
//! `{"alg":"EdDSA","typ":"JWT","kid":..}` and the claims of [`AccessClaims`].

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use innkeeper_kernel::{Error, Result};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use time::OffsetDateTime;

use crate::api::{AccessClaims, Jwk, SigningKeyInfo};

/// The JWS algorithm of every key (`EdDSA` over Ed25519).
pub(crate) const ALGORITHM: &str = "EdDSA";

/// A signing key as stored: the private half never leaves the identity service.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The key id tokens name in their header.
    pub kid: String,
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// PKCS#8 v2 DER of the key pair.
    pub private_key: Vec<u8>,
    /// The raw 32-byte public key.
    pub public_key: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// When it stopped signing (a newer key took over).
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh Ed25519 key created at `now`. Its id is a UUIDv7, so ids sort by age.
    pub(crate) fn generate(now: OffsetDateTime) -> Result<Self> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|e| Error::internal(format!("Ed25519 key generation failed: {e}")))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|e| Error::internal(format!("generated Ed25519 key rejected: {e}")))?;
        Ok(Self {
            kid: uuid::Uuid::now_v7().to_string(),
            algorithm: ALGORITHM.to_owned(),
            private_key: pkcs8.as_ref().to_vec(),
            public_key: pair.public_key().as_ref().to_vec(),
            created_at: now,
            retired_at: None,
        })
    }

    /// Signs the claims as a compact JWS naming this key.
    pub(crate) fn sign(&self, claims: &AccessClaims) -> Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("JWT".to_owned());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_ed_der(&self.private_key),
        )
        .map_err(|e| Error::internal(format!("signing with key {} failed: {e}", self.kid)))
    }

    /// The public half as a JWK.
    pub(crate) fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            kid: self.kid.clone(),
            x: URL_SAFE_NO_PAD.encode(&self.public_key),
            alg: self.algorithm.clone(),
            use_: "sig".to_owned(),
        }
    }

    /// What administration may show.
    pub(crate) fn info(&self) -> SigningKeyInfo {
        SigningKeyInfo {
            kid: self.kid.clone(),
            algorithm: self.algorithm.clone(),
            created_at: self.created_at,
            retired_at: self.retired_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};
    use time::macros::datetime;

    use super::*;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "http://127.0.0.1:8080".into(),
            aud: "innkeeper".into(),
            sub: uuid::Uuid::now_v7().to_string(),
            iat: 1_700_000_000,
            nbf: 1_700_000_000,
            exp: 1_700_000_900,
            jti: uuid::Uuid::now_v7().to_string(),
            role: "guest".into(),
        }
    }

    #[test]
    fn tokens_verify_with_the_published_jwk_only() {
        let key = SigningKey::generate(datetime!(2026-11-30 10:00 UTC)).expect("key");
        let token = key.sign(&claims()).expect("signed");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));

        let jwk = key.jwk();
        assert_eq!((jwk.kty.as_str(), jwk.crv.as_str()), ("OKP", "Ed25519"));
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.set_audience(&["innkeeper"]);
        let decoded = jsonwebtoken::decode::<AccessClaims>(
            &token,
            &DecodingKey::from_ed_components(&jwk.x).expect("x"),
            &validation,
        )
        .expect("verifies");
        assert_eq!(decoded.claims, claims_with(&decoded.claims));

        let other = SigningKey::generate(datetime!(2026-11-30 10:00 UTC)).expect("key");
        let wrong = DecodingKey::from_ed_components(&other.jwk().x).expect("x");
        assert!(jsonwebtoken::decode::<AccessClaims>(&token, &wrong, &validation).is_err());
        assert!(!format!("{key:?}").contains("private_key"));
    }

    /// The fixed claims with the random parts of `seen`.
    fn claims_with(seen: &AccessClaims) -> AccessClaims {
        AccessClaims {
            sub: seen.sub.clone(),
            jti: seen.jti.clone(),
            ..claims()
        }
    }
}
