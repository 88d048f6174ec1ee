//! Configuration of token verification: the local issuer (the identity service) and any
//! external OpenID issuers (Keycloak, ...) whose tokens are trusted too.

use std::collections::BTreeMap;
use std::path::PathBuf;

use innkeeper_kernel::Role;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

/// The issuer the identity service signs with unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8080";
/// The audience of Innkeeper access tokens.
pub const DEFAULT_AUDIENCE: &str = "innkeeper";

/// How many verified tokens a verifier remembers unless configured otherwise (a few MB at most).
pub const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE: u64 = 10_000;

/// `[auth]`: which tokens are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// The `iss` of tokens from the local identity service (exact match).
    pub issuer: String,
    /// The `aud` every local token must carry.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, seconds.
    pub leeway_seconds: u64,
    /// At most one key refetch per issuer per this many seconds, however many tokens with an
    /// unknown `kid` arrive.
    pub jwks_refetch_seconds: u64,
    /// Every this many seconds a node refetches the keys it holds, so a key withdrawn from an
    /// issuer's JWKS stops being accepted even if no token with a new `kid` makes it look.
    pub jwks_max_age_seconds: u64,
    /// How many verified tokens each verifier remembers (by SHA-256, for at most a minute and
    /// never past their `exp`), so a token seen again is not verified again; 0: none.
    pub verified_token_cache_size: u64,
    /// The platform's service secret: a service that presents it to the identity service gets
    /// a token of role `service` for calls on its own behalf (the booking saga's holds over
    /// gRPC). Empty: no service tokens (fine when no such call crosses a process). Never
    /// printed (`config print` shows `<redacted>`).
    #[serde(serialize_with = "redacted")]
    pub service_secret: String,
    /// Further trusted issuers (OpenID providers).
    pub external: Vec<ExternalIssuerSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            leeway_seconds: 30,
            jwks_refetch_seconds: 30,
            jwks_max_age_seconds: 300,
            verified_token_cache_size: DEFAULT_VERIFIED_TOKEN_CACHE_SIZE,
            service_secret: String::new(),
            external: Vec::new(),
        }
    }
}

/// Serialises a secret as `<redacted>` (or empty when unset).
fn redacted<S: serde::Serializer>(secret: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if secret.is_empty() { "" } else { "<redacted>" })
}

/// `[[auth.external]]`: an external OpenID issuer whose access tokens are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExternalIssuerSettings {
    /// The issuer's `iss`, exactly as it appears in its tokens
    /// (Keycloak: `https://host/realms/<realm>`).
    pub issuer: String,
    /// Where its signing keys are published (Keycloak:
    /// `https://host/realms/<realm>/protocol/openid-connect/certs`). `https://` is verified
    /// against the platform's root certificates (plus [`Self::ca_file`]); `http://` only suits
    /// a private network.
    pub jwks_url: String,
    /// A PEM file of further CA certificates trusted for `jwks_url` (a private CA), in addition
    /// to the platform's roots. Read once at start-up; a relative path is taken from the working
    /// directory.
    pub ca_file: Option<PathBuf>,
    /// The `aud` its tokens must carry for Innkeeper.
    pub audience: String,
    /// Accepted signature algorithms. Asymmetric only (`HS*` is refused at start-up).
    pub algorithms: Vec<Algorithm>,
    /// Dotted path of the claim carrying the roles, a string or an array of strings
    /// (Keycloak realm roles: `realm_access.roles`).
    pub roles_claim: String,
    /// External role name -> Innkeeper role. When several match, the strongest wins
    /// (admin > hotelier > guest).
    pub role_map: BTreeMap<String, Role>,
    /// The role of a token none of whose roles is mapped; without one such tokens are refused.
    pub default_role: Option<Role>,
    /// Whether a `sub` that is a UUID is taken as the Innkeeper user id as is. By default every
    /// external subject becomes a UUIDv5 derived from issuer and subject, so an external issuer
    /// can never speak for a local user.
    pub subject_is_user_id: bool,
}

impl Default for ExternalIssuerSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            jwks_url: String::new(),
            ca_file: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
            algorithms: vec![Algorithm::RS256],
            roles_claim: "realm_access.roles".to_owned(),
            role_map: BTreeMap::new(),
            default_role: None,
            subject_is_user_id: false,
        }
    }
}
