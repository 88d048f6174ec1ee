//! The identity service's contract: what the gateway and other services may ask of it.
//!
//! [`IdentityApi`] is implemented by the in-process service ([`crate::IdentityService`]) and by
//! the gRPC client ([`crate::grpc::IdentityGrpcClient`]). Callers hold an [`IdentityClient`]
//! and never know which one they have: both return the same values and the same
//! [`innkeeper_kernel::Error`]s.
//!
//! Administration (creating admins, rotating signing keys) is deliberately not part of this
//! contract: it is only reachable in-process, from the CLI, through inherent methods of
//! [`crate::IdentityService`].

use std::sync::Arc;

use innkeeper_kernel::{Principal, Result, Role, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

/// Which channels notifications may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// Email (to the account's address).
    #[serde(default = "yes")]
    pub email: bool,
    /// SMS (to `phone`).
    #[serde(default)]
    pub sms: bool,
    /// Telegram (to `telegram_chat_id`).
    #[serde(default)]
    pub telegram: bool,
    /// The in-app inbox.
    #[serde(default = "yes")]
    pub in_app: bool,
}

fn yes() -> bool {
    true
}

impl Default for NotificationPreferences {
    /// Email and in-app on, the channels that need a number or chat off.
    fn default() -> Self {
        Self {
            email: true,
            sms: false,
            telegram: false,
            in_app: true,
        }
    }
}

/// An account, without its credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: UserId,
    /// Normalised: trimmed and lower-cased.
    pub email: String,
    /// The name shown to hotels and in messages.
    pub name: String,
    pub role: Role,
    /// E.164 phone number for SMS, if given.
    pub phone: Option<String>,
    /// The Telegram chat linked for notifications, if any.
    pub telegram_chat_id: Option<String>,
    pub notifications: NotificationPreferences,
    /// Optimistic-concurrency version, the `ETag`.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl User {
    /// The principal this user acts as.
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.id,
            role: self.role,
        }
    }
}

/// The roles anyone may register as (admins are created with the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegisterRole {
    Guest,
    Hotelier,
}

impl From<RegisterRole> for Role {
    fn from(role: RegisterRole) -> Role {
        match role {
            RegisterRole::Guest => Role::Guest,
            RegisterRole::Hotelier => Role::Hotelier,
        }
    }
}

/// `POST /auth/register`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    pub email: String,
    /// 12 to 128 characters, not all of one kind, not the email address.
    pub password: String,
    pub name: String,
    pub role: RegisterRole,
}

impl std::fmt::Debug for Register {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Register")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish()
    }
}

/// `POST /auth/login`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `POST /auth/refresh`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub refresh_token: String,
}

impl std::fmt::Debug for Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Refresh { refresh_token: <redacted> }")
    }
}

/// `POST /auth/logout`: which sessions end.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Logout {
    /// The refresh token whose family is revoked; absent: every family of the caller
    /// ("log out everywhere").
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for Logout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logout")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// An access token and the refresh token to renew it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// A signed JWT (EdDSA) for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque; exchange it once at `/auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// `PATCH /me`: absent fields stay as they are; an empty string clears `phone` or
/// `telegram_chat_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub telegram_chat_id: Option<String>,
    pub notifications: Option<NotificationPreferences>,
}

// ---------------------------------------------------------------------------------------------
// Keys and discovery
// ---------------------------------------------------------------------------------------------

/// A public signing key (RFC 7517; `OKP` / `Ed25519`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The key id tokens name in their header.
    pub kid: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// `GET /.well-known/openid-configuration` (the subset that describes this issuer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OpenIdConfiguration {
    pub issuer: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub claims_supported: Vec<String>,
}

/// The claims of an access token (the contract shared with every verifier).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The issuer URL.
    pub iss: String,
    /// `innkeeper` (configurable).
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// A unique token id.
    pub jti: String,
    /// `guest`, `hotelier` or `admin`.
    pub role: String,
}

/// A signing key as shown by administration (never the private half).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyInfo {
    pub kid: String,
    pub algorithm: String,
    pub created_at: OffsetDateTime,
    /// When it stopped signing; it stays published until its last token expired.
    pub retired_at: Option<OffsetDateTime>,
}

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

/// Everything the identity service answers.
///
/// Login and refresh failures are all `unauthenticated` with one message each, whatever the
/// cause (unknown email, wrong password, spent or unknown token): nothing tells an attacker
/// which part was wrong.
#[async_trait::async_trait]
pub trait IdentityApi: Send + Sync + 'static {
    /// Creates a guest or hotelier account: 422 on an invalid email, name or weak password,
    /// 409 if the email is taken.
    async fn register(&self, request: Register) -> Result<User>;
    /// Exchanges email and password for a token pair (a new refresh family).
    async fn login(&self, request: Login) -> Result<TokenPair>;
    /// Exchanges a refresh token for a new pair. The presented token is spent; presenting a
    /// spent token again revokes its whole family.
    async fn refresh(&self, request: Refresh) -> Result<TokenPair>;
    /// Revokes the family of the given refresh token (if it is the caller's), or every family
    /// of the caller.
    async fn logout(&self, caller: &Principal, request: Logout) -> Result<()>;
    /// The caller's profile.
    async fn me(&self, caller: &Principal) -> Result<User>;
    /// Changes the caller's profile if its version is `if_match` (412 otherwise).
    async fn update_me(
        &self,
        caller: &Principal,
        if_match: i64,
        patch: ProfilePatch,
    ) -> Result<User>;
    /// The keys that verify current access tokens.
    async fn jwks(&self) -> Result<JwkSet>;
    /// The discovery document.
    async fn openid_configuration(&self) -> Result<OpenIdConfiguration>;
    /// A token of role `service` for one of the platform's services
    /// (`innkeeper_kernel::SERVICE_NAMES`), if the request carries the platform's service
    /// secret (`auth.service_secret`); `unauthenticated` otherwise, and always when no secret
    /// is configured. See `innkeeper_platform::auth::ServiceCredential`.
    async fn issue_service_token(&self, request: ServiceTokenRequest) -> Result<ServiceToken>;
}

/// What a platform service sends to obtain its own access token.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceTokenRequest {
    /// The service, such as `booking`.
    pub service: String,
    /// The platform's service secret.
    pub secret: String,
}

impl std::fmt::Debug for ServiceTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokenRequest")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// A service's access token.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceToken {
    /// The signed token (role `service`).
    pub access_token: String,
    /// Its lifetime from now, seconds.
    pub expires_in: u64,
}

impl std::fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceToken")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl innkeeper_platform::auth::ServiceTokenIssuer for IdentityClient {
    async fn issue_service_token(
        &self,
        service: &str,
        secret: &str,
    ) -> Result<innkeeper_platform::auth::IssuedServiceToken> {
        let token = self
            .0
            .issue_service_token(ServiceTokenRequest {
                service: service.to_owned(),
                secret: secret.to_owned(),
            })
            .await?;
        Ok(innkeeper_platform::auth::IssuedServiceToken {
            access_token: token.access_token,
            expires_in: std::time::Duration::from_secs(token.expires_in),
        })
    }
}

/// A handle on the identity service, local or remote; cheap to clone.
#[derive(Clone)]
pub struct IdentityClient(Arc<dyn IdentityApi>);

impl IdentityClient {
    /// Wraps an implementation (the in-process service or the gRPC client).
    pub fn new(api: Arc<dyn IdentityApi>) -> Self {
        Self(api)
    }
}

impl std::fmt::Debug for IdentityClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityClient")
    }
}

impl std::ops::Deref for IdentityClient {
    type Target = dyn IdentityApi;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
