//! The identity use cases: one method per operation of [`IdentityApi`], plus the
//! administration the CLI runs in-process (creating admins, rotating keys).
//!
//! Every check of input is a pure `domain` rule; every transaction belongs to the store.

use std::sync::Arc;

use innkeeper_kernel::{Clock, Error, ErrorCode, FieldError, Principal, Result, Role, UserId};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};
use tracing::instrument;

use crate::api::*;
use crate::domain::keys::{ALGORITHM, SigningKey};
use crate::domain::{email, password, profile, refresh};
use crate::store::{IdentityStore, NewRefreshToken, Rotation, StoredUser};

/// The one answer to every failed login, whatever failed.
pub(crate) const LOGIN_FAILED: &str = "invalid email or password";
/// The one answer to every refused refresh token, whatever was wrong with it.
pub(crate) const REFRESH_FAILED: &str = "the refresh token is invalid, expired or revoked";

/// Tunables of the identity service (the `[identity]` section of the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentitySettings {
    /// The issuer URL: the `iss` of every access token and the base of the discovery
    /// document's URLs (the public URL of the gateway). Default `http://127.0.0.1:8080`.
    pub issuer: String,
    /// The `aud` of every access token. Default `innkeeper`.
    pub audience: String,
    /// Lifetime of an access token, seconds. Default 900 (15 minutes).
    pub access_token_ttl_seconds: u64,
    /// Lifetime of a refresh token, seconds; each rotation issues a token with a fresh
    /// lifetime. Default 2,592,000 (30 days).
    pub refresh_token_ttl_seconds: u64,
    /// Extra time a retired signing key stays published after the last token it signed has
    /// expired (covers verifiers' clock skew and JWKS caching), seconds. Default 300.
    pub key_publish_leeway_seconds: u64,
    /// The platform's service secret (`auth.service_secret`, set by the runtime, not read from
    /// `[identity]`); empty: no service tokens are issued.
    #[serde(skip)]
    pub service_secret: ServiceSecret,
}

/// The service secret, never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ServiceSecret(pub String);

impl std::fmt::Debug for ServiceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "unset"
        } else {
            "<redacted>"
        })
    }
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".to_owned(),
            audience: "innkeeper".to_owned(),
            access_token_ttl_seconds: 900,
            refresh_token_ttl_seconds: 30 * 24 * 3600,
            key_publish_leeway_seconds: 300,
            service_secret: ServiceSecret::default(),
        }
    }
}

impl IdentitySettings {
    fn access_ttl(&self) -> Duration {
        Duration::seconds(i64::try_from(self.access_token_ttl_seconds).unwrap_or(i64::MAX))
    }

    fn refresh_ttl(&self) -> Duration {
        Duration::seconds(i64::try_from(self.refresh_token_ttl_seconds).unwrap_or(i64::MAX))
    }

    /// How long after its retirement a key is still published.
    fn publish_after_retirement(&self) -> Duration {
        self.access_ttl()
            + Duration::seconds(i64::try_from(self.key_publish_leeway_seconds).unwrap_or(0))
    }

    /// The issuer without a trailing slash, as it appears in `iss`.
    fn issuer(&self) -> &str {
        self.issuer.trim_end_matches('/')
    }
}

/// The identity service: implements [`IdentityApi`] in-process.
#[derive(Clone)]
pub struct IdentityService {
    store: Arc<dyn IdentityStore>,
    clock: Arc<dyn Clock>,
    settings: IdentitySettings,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The failure of a login, identical for every cause.
fn login_failed() -> Error {
    Error::new(ErrorCode::Unauthenticated, LOGIN_FAILED)
}

/// The failure of a refresh, identical for every cause.
fn refresh_failed() -> Error {
    Error::new(ErrorCode::Unauthenticated, REFRESH_FAILED)
}

/// Collects the errors of several field checks into one 422 (all fields at once).
fn all_fields<const N: usize>(errors: [Option<Error>; N]) -> Result<()> {
    let fields: Vec<FieldError> = errors
        .into_iter()
        .flatten()
        .flat_map(|e| e.errors)
        .collect();
    if fields.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid_fields(fields))
    }
}

impl IdentityService {
    /// A service over a migrated store.
    pub fn new(
        store: Arc<dyn IdentityStore>,
        clock: Arc<dyn Clock>,
        settings: IdentitySettings,
    ) -> Self {
        Self {
            store,
            clock,
            settings,
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &IdentitySettings {
        &self.settings
    }

    /// Now, to the microsecond: the precision both backends store, so a value returned from
    /// a write equals the same value read back.
    fn now(&self) -> OffsetDateTime {
        let now = self.clock.now();
        now.replace_nanosecond(now.nanosecond() / 1000 * 1000)
            .unwrap_or(now)
    }

    /// Prepares for traffic: makes sure a signing key exists and computes the decoy hash that
    /// makes unknown-email logins cost what wrong-password logins cost.
    pub async fn prepare(&self) -> Result<()> {
        self.active_key().await?;
        password::warm_up().await
    }

    // -----------------------------------------------------------------------------------------
    // Administration (CLI only, never over the network)
    // -----------------------------------------------------------------------------------------

    /// Creates an admin account (`innkeeper admin create`). Same rules as registration.
    #[instrument(skip(self, password))]
    pub async fn create_admin(&self, email: &str, password: String, name: &str) -> Result<User> {
        self.create_user(UserId::new(), email, password, name, Role::Admin)
            .await
    }

    /// Makes a new key the signing key (`innkeeper keys rotate`). The previous keys stop
    /// signing now and stay published until every token they signed has expired (access TTL
    /// plus the leeway); keys past that are deleted. Running services pick the new key up on
    /// their next token, without a restart.
    #[instrument(skip(self))]
    pub async fn rotate_keys(&self) -> Result<SigningKeyInfo> {
        let now = self.now();
        let key = SigningKey::generate(now)?;
        self.store.activate_signing_key(&key, now).await?;
        let pruned = self
            .store
            .prune_signing_keys(now - self.settings.publish_after_retirement())
            .await?;
        tracing::info!(kid = %key.kid, pruned, "signing key rotated");
        Ok(key.info())
    }

    /// Deletes up to `batch` refresh tokens that have expired, and the families left empty;
    /// returns how many tokens. Run by the sweeper.
    pub async fn prune_expired_refresh_tokens(&self, batch: u32) -> Result<u32> {
        self.store.prune_refresh_tokens(self.now(), batch).await
    }

    /// Every stored signing key, newest first (published or not).
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyInfo>> {
        Ok(self
            .store
            .signing_keys()
            .await?
            .iter()
            .map(SigningKey::info)
            .collect())
    }

    // -----------------------------------------------------------------------------------------
    // Helpers
    // -----------------------------------------------------------------------------------------

    /// Validates and stores a new account with a fixed id (demo users have well-known ids).
    pub(crate) async fn create_user(
        &self,
        id: UserId,
        raw_email: &str,
        password: String,
        raw_name: &str,
        role: Role,
    ) -> Result<User> {
        let email = email::normalize("email", raw_email);
        let name = profile::name("name", raw_name);
        let policy = match &email {
            Ok(email) => password::check_policy("password", &password, email).err(),
            // Without a valid email the policy is still checked, minus the email rule.
            Err(_) => password::check_policy("password", &password, "").err(),
        };
        all_fields([
            email.as_ref().err().cloned(),
            name.as_ref().err().cloned(),
            policy,
        ])?;
        let (email, name) = (email?, name?);

        let password_hash = password::hash(password).await?;
        let now = self.now();
        let user = User {
            id,
            email,
            name,
            role,
            phone: None,
            telegram_chat_id: None,
            notifications: NotificationPreferences::default(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.store
            .insert_user(&StoredUser {
                user: user.clone(),
                password_hash,
            })
            .await?;
        tracing::info!(user_id = %user.id, role = role.as_str(), "account created");
        Ok(user)
    }

    /// The key that signs now: the newest unretired one, created if there is none yet.
    async fn active_key(&self) -> Result<SigningKey> {
        if let Some(key) = self.current_key().await? {
            return Ok(key);
        }
        let candidate = SigningKey::generate(self.now())?;
        self.store.ensure_signing_key(&candidate).await?;
        // Another replica may have won the race: whatever is current now signs.
        self.current_key()
            .await?
            .ok_or_else(|| Error::internal("no signing key after creating one"))
    }

    async fn current_key(&self) -> Result<Option<SigningKey>> {
        Ok(self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .find(|k| k.retired_at.is_none()))
    }

    /// A signed access token for `user`.
    async fn access_token(&self, user: &User, now: OffsetDateTime) -> Result<String> {
        self.sign_access_token(user.principal(), now).await
    }

    /// A signed access token for `principal`, valid for `access_token_ttl_seconds`.
    async fn sign_access_token(&self, principal: Principal, now: OffsetDateTime) -> Result<String> {
        let key = self.active_key().await?;
        let iat = now.unix_timestamp();
        let claims = AccessClaims {
            iss: self.settings.issuer().to_owned(),
            aud: self.settings.audience.clone(),
            sub: principal.user_id.to_string(),
            iat,
            nbf: iat,
            exp: (now + self.settings.access_ttl()).unix_timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
            role: principal.role.as_str().to_owned(),
        };
        key.sign(&claims)
    }

    fn pair(&self, access_token: String, refresh_token: String) -> TokenPair {
        TokenPair {
            access_token,
            refresh_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.settings.access_token_ttl_seconds,
        }
    }

    async fn stored_user(&self, id: UserId) -> Result<StoredUser> {
        self.store
            .get_user(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))
    }
}

#[async_trait::async_trait]
impl IdentityApi for IdentityService {
    #[instrument(skip(self))]
    async fn register(&self, request: Register) -> Result<User> {
        self.create_user(
            UserId::new(),
            &request.email,
            request.password,
            &request.name,
            request.role.into(),
        )
        .await
    }

    #[instrument(skip(self))]
    async fn login(&self, request: Login) -> Result<TokenPair> {
        // Every path verifies one hash, so an unknown email costs what a wrong password costs.
        let user = match email::normalize("email", &request.email) {
            Ok(email) => self.store.find_user_by_email(&email).await?,
            Err(_) => None,
        };
        let mut candidate = request.password;
        if candidate.chars().count() > password::MAX_LEN {
            // No stored password is this long; verify something bounded and fail.
            candidate.clear();
        }
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let matches = password::verify(candidate, hash).await?;
        let Some(StoredUser { user, .. }) = user.filter(|_| matches) else {
            tracing::info!("login refused");
            return Err(login_failed());
        };

        let now = self.now();
        let access = self.access_token(&user, now).await?;
        let (refresh_token, hash) = refresh::generate();
        self.store
            .start_refresh_family(&NewRefreshToken {
                token_hash: hash,
                family_id: uuid::Uuid::now_v7(),
                user_id: user.id,
                created_at: now,
                expires_at: now + self.settings.refresh_ttl(),
            })
            .await?;
        tracing::info!(user_id = %user.id, "logged in");
        Ok(self.pair(access, refresh_token))
    }

    #[instrument(skip(self))]
    async fn refresh(&self, request: Refresh) -> Result<TokenPair> {
        if !refresh::is_well_formed(&request.refresh_token) {
            return Err(refresh_failed());
        }
        let now = self.now();
        let (next, next_hash) = refresh::generate();
        let rotation = self
            .store
            .rotate_refresh_token(
                &refresh::hash(&request.refresh_token),
                &next_hash,
                now,
                now + self.settings.refresh_ttl(),
            )
            .await?;
        let user_id = match rotation {
            Rotation::Rotated { user_id, .. } => user_id,
            Rotation::Reused { user_id, family_id } => {
                tracing::warn!(%user_id, %family_id, "spent refresh token presented again; family revoked");
                return Err(refresh_failed());
            }
            Rotation::Rejected => return Err(refresh_failed()),
        };
        let Some(StoredUser { user, .. }) = self.store.get_user(user_id).await? else {
            return Err(refresh_failed());
        };
        let access = self.access_token(&user, now).await?;
        Ok(self.pair(access, next))
    }

    #[instrument(skip(self))]
    async fn logout(&self, caller: &Principal, request: Logout) -> Result<()> {
        let now = self.now();
        match request.refresh_token {
            // Someone else's or a malformed token ends nothing, and says nothing about it.
            Some(token) if refresh::is_well_formed(&token) => {
                self.store
                    .revoke_family_of_token(&refresh::hash(&token), caller.user_id, now)
                    .await?;
            }
            Some(_) => {}
            None => {
                self.store.revoke_user_families(caller.user_id, now).await?;
            }
        }
        tracing::info!(user_id = %caller.user_id, "logged out");
        Ok(())
    }

    async fn me(&self, caller: &Principal) -> Result<User> {
        Ok(self.stored_user(caller.user_id).await?.user)
    }

    #[instrument(skip(self))]
    async fn update_me(
        &self,
        caller: &Principal,
        if_match: i64,
        patch: ProfilePatch,
    ) -> Result<User> {
        let mut user = self.stored_user(caller.user_id).await?.user;
        if user.version != if_match {
            return Err(Error::version_mismatch(user.version));
        }
        let name = patch
            .name
            .as_deref()
            .map(|n| profile::name("name", n))
            .transpose();
        let phone = patch
            .phone
            .as_deref()
            .map(|p| profile::phone("phone", p))
            .transpose();
        let telegram = patch
            .telegram_chat_id
            .as_deref()
            .map(|t| profile::telegram_chat_id("telegram_chat_id", t))
            .transpose();
        all_fields([
            name.as_ref().err().cloned(),
            phone.as_ref().err().cloned(),
            telegram.as_ref().err().cloned(),
        ])?;
        let mut notifications = patch.notifications.unwrap_or(user.notifications);
        if let Some(name) = name? {
            user.name = name;
        }
        if let Some(phone) = phone? {
            user.phone = phone;
        }
        if let Some(telegram) = telegram? {
            user.telegram_chat_id = telegram;
        }
        // A channel without an address cannot be on.
        notifications.sms &= user.phone.is_some();
        notifications.telegram &= user.telegram_chat_id.is_some();
        if patch
            .notifications
            .is_some_and(|n| n.sms && !notifications.sms)
        {
            return Err(Error::invalid_field(
                "notifications.sms",
                "needs a phone number; set phone first",
            ));
        }
        if patch
            .notifications
            .is_some_and(|n| n.telegram && !notifications.telegram)
        {
            return Err(Error::invalid_field(
                "notifications.telegram",
                "needs a linked Telegram chat; set telegram_chat_id first",
            ));
        }
        user.notifications = notifications;
        user.updated_at = self.now();
        self.store.update_user(&user, if_match).await
    }

    async fn jwks(&self) -> Result<JwkSet> {
        let now = self.now();
        let window = self.settings.publish_after_retirement();
        let keys = self
            .store
            .signing_keys()
            .await?
            .iter()
            .filter(|k| k.retired_at.is_none_or(|retired| retired + window > now))
            .map(SigningKey::jwk)
            .collect();
        Ok(JwkSet { keys })
    }

    #[instrument(skip(self, request), fields(service = %request.service))]
    async fn issue_service_token(&self, request: ServiceTokenRequest) -> Result<ServiceToken> {
        let refused = |why: &str| {
            tracing::warn!(service = %request.service, "service token refused: {why}");
            Error::new(ErrorCode::Unauthenticated, "service credentials refused")
        };
        let expected = self.settings.service_secret.0.as_bytes();
        if expected.is_empty() {
            return Err(refused("auth.service_secret is not set"));
        }
        if aws_lc_rs::constant_time::verify_slices_are_equal(expected, request.secret.as_bytes())
            .is_err()
        {
            return Err(refused("wrong secret"));
        }
        if !innkeeper_kernel::SERVICE_NAMES.contains(&request.service.as_str()) {
            return Err(refused("unknown service"));
        }
        let access_token = self
            .sign_access_token(Principal::service(&request.service), self.now())
            .await?;
        Ok(ServiceToken {
            access_token,
            expires_in: self.settings.access_token_ttl_seconds,
        })
    }

    async fn openid_configuration(&self) -> Result<OpenIdConfiguration> {
        let issuer = self.settings.issuer();
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Ok(OpenIdConfiguration {
            issuer: issuer.to_owned(),
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            token_endpoint: format!("{issuer}/api/v1/auth/login"),
            id_token_signing_alg_values_supported: strings(&[ALGORITHM]),
            token_endpoint_auth_methods_supported: strings(&["none"]),
            grant_types_supported: strings(&["password", "refresh_token"]),
            response_types_supported: strings(&["token"]),
            subject_types_supported: strings(&["public"]),
            claims_supported: strings(&["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "role"]),
        })
    }
}

#[cfg(test)]
mod tests;
