//! The access-token verifier: which issuers are trusted, their pinned algorithms and keys, and
//! how their claims become a [`Principal`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use innkeeper_kernel::{Clock, Error, ErrorCode, Principal, Result, Role, UserId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::keys::{HttpKeySource, KeySource};
use super::settings::{AuthSettings, ExternalIssuerSettings};
use super::verified::{MAX_AGE, Verified, VerifiedTokens};

/// How long one JWKS fetch over HTTP may take.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

fn unauthenticated(reason: impl Into<String>) -> Error {
    Error::new(ErrorCode::Unauthenticated, reason)
}

fn malformed() -> Error {
    unauthenticated("malformed token")
}

/// How a token's roles claim becomes an Innkeeper [`Role`].
#[derive(Debug, Clone)]
struct RoleRule {
    /// Dotted path of the claim (`role`, `realm_access.roles`).
    path: Vec<String>,
    /// Claim value -> role.
    map: BTreeMap<String, Role>,
    /// The role when no value is mapped.
    default: Option<Role>,
}

impl RoleRule {
    fn role(&self, claims: &Map<String, Value>) -> Result<Role> {
        let mut parts = self.path.iter();
        let first = parts.next().and_then(|p| claims.get(p));
        let value = parts.fold(first, |v, p| v.and_then(|v| v.get(p)));
        let names: Vec<&str> = match value {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        names
            .iter()
            .filter_map(|n| self.map.get(*n).copied())
            .max_by_key(|r| strength(*r))
            .or(self.default)
            .ok_or_else(|| unauthenticated("token carries no accepted role"))
    }
}

fn strength(role: Role) -> u8 {
    match role {
        // Never mapped from an external issuer (refused in configuration).
        Role::Service | Role::Guest => 0,
        Role::Hotelier => 1,
        Role::Admin => 2,
    }
}

/// How a token's `sub` becomes a [`UserId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubjectRule {
    /// `sub` must be the user's UUID (the local issuer).
    Uuid,
    /// Every `sub` becomes UUIDv5(namespace of the issuer, sub); with `keep_uuids`, a `sub` that
    /// already is a UUID is taken as is.
    Namespaced { keep_uuids: bool },
}

/// An issuer whose tokens are accepted: its exact `iss`, required `aud`, pinned algorithms,
/// where its keys come from and how its claims map to a principal.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    keys: Arc<dyn KeySource>,
    roles: RoleRule,
    subjects: SubjectRule,
    refetch_interval: Option<Duration>,
}

impl TrustedIssuer {
    /// The local identity service: EdDSA only, `sub` is the user id, `role` is
    /// `guest|hotelier|admin`, or `service` in the tokens of the platform's own services.
    pub fn local(issuer: &str, audience: &str, keys: Arc<dyn KeySource>) -> Self {
        let map = [Role::Guest, Role::Hotelier, Role::Admin, Role::Service]
            .into_iter()
            .map(|r| (r.as_str().to_owned(), r))
            .collect();
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            algorithms: vec![Algorithm::EdDSA],
            keys,
            roles: RoleRule {
                path: vec!["role".to_owned()],
                map,
                default: None,
            },
            subjects: SubjectRule::Uuid,
            refetch_interval: None,
        }
    }

    /// An external OpenID issuer as configured; fails on a configuration that would be unsafe
    /// or could never accept a token (no algorithms, a symmetric algorithm, no roles).
    pub fn external(settings: &ExternalIssuerSettings, keys: Arc<dyn KeySource>) -> Result<Self> {
        if settings.issuer.is_empty() {
            return Err(Error::invalid_field("issuer", "must not be empty"));
        }
        if settings.audience.is_empty() {
            return Err(Error::invalid_field("audience", "must not be empty"));
        }
        if settings.algorithms.is_empty() {
            return Err(Error::invalid_field("algorithms", "must name at least one"));
        }
        if settings
            .algorithms
            .iter()
            .any(|a| a.family() == AlgorithmFamily::Hmac)
        {
            return Err(Error::invalid_field(
                "algorithms",
                "symmetric (HS*) algorithms cannot be verified with published keys",
            ));
        }
        if settings.role_map.values().any(|r| *r == Role::Service)
            || settings.default_role == Some(Role::Service)
        {
            return Err(Error::invalid_field(
                "role_map",
                "`service` is the platform's own services' role: only the local issuer grants it",
            ));
        }
        if settings.role_map.is_empty() && settings.default_role.is_none() {
            return Err(Error::invalid_field(
                "role_map",
                "map at least one role or set default_role",
            ));
        }
        Ok(Self {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            algorithms: settings.algorithms.clone(),
            keys,
            roles: RoleRule {
                path: settings.roles_claim.split('.').map(str::to_owned).collect(),
                map: settings.role_map.clone(),
                default: settings.default_role,
            },
            subjects: SubjectRule::Namespaced {
                keep_uuids: settings.subject_is_user_id,
            },
            refetch_interval: None,
        })
    }

    /// Overrides the verifier's minimum time between key refetches for this issuer (an
    /// embedded key source is cheap to ask).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = Some(interval);
        self
    }

    /// The `iss` of this issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn user_id(&self, sub: &str) -> Result<UserId> {
        let parsed = Uuid::parse_str(sub).ok();
        match (self.subjects, parsed) {
            (SubjectRule::Uuid, Some(id)) => Ok(UserId(id)),
            (SubjectRule::Uuid, None) => Err(unauthenticated("token subject is not a user id")),
            (SubjectRule::Namespaced { keep_uuids: true }, Some(id)) => Ok(UserId(id)),
            (SubjectRule::Namespaced { .. }, _) => Ok(external_user_id(&self.issuer, sub)),
        }
    }
}

/// The user id of an external subject: UUIDv5 of `sub` in a namespace derived from the issuer.
pub fn external_user_id(issuer: &str, sub: &str) -> UserId {
    let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, issuer.as_bytes());
    UserId(Uuid::new_v5(&namespace, sub.as_bytes()))
}

/// A key as cached: the decoding key, the algorithm the JWKS pinned it to, if any, and the JWK
/// it came from (to notice a key replaced under the same `kid`).
struct CachedKey {
    key: DecodingKey,
    alg: Option<KeyAlgorithm>,
    jwk: Jwk,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Arc<CachedKey>>,
    /// When the keys were last asked for (successfully or not).
    last_fetch: Option<OffsetDateTime>,
    /// How many times they were asked for.
    fetches: u64,
    /// Whether the last fetch failed (the source was down): then the next may come sooner.
    last_failed: bool,
}

/// After a failed fetch, the next may come this soon (not after the whole refetch interval):
/// a node that met a token while identity was restarting must not refuse valid tokens for
/// `jwks_refetch_seconds`, and one fetch a second does not hammer a source that is down.
const FAILED_FETCH_BACKOFF: Duration = Duration::from_secs(1);

/// What a caller is told when an issuer's keys cannot be fetched.
const KEYS_UNAVAILABLE: &str = "the issuer's signing keys cannot be fetched right now";

/// The local issuer's minimum time between key refetches (see [`Verifier::from_settings`]).
const LOCAL_REFETCH: Duration = Duration::from_secs(1);

struct IssuerState {
    trusted: TrustedIssuer,
    cache: RwLock<KeyCache>,
    /// Serialises fetches, so a burst of unknown `kid`s costs one.
    fetching: tokio::sync::Mutex<()>,
}

impl IssuerState {
    fn cached(&self, kid: &str) -> Option<Arc<CachedKey>> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        cache.keys.get(kid).cloned()
    }

    /// The key `kid`, refetching the issuer's keys when it is unknown and the last fetch is at
    /// least `refetch` ago. A refetch that finds a known key withdrawn or replaced moves
    /// `generation` on, so tokens verified with it are verified again.
    async fn key(
        &self,
        kid: &str,
        clock: &dyn Clock,
        refetch: Duration,
        generation: &AtomicU64,
    ) -> Result<Arc<CachedKey>> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let _fetching = self.fetching.lock().await;
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let now = clock.now();
        {
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            let refetch = if cache.last_failed {
                FAILED_FETCH_BACKOFF
            } else {
                self.trusted.refetch_interval.unwrap_or(refetch)
            };
            if cache.last_fetch.is_some_and(|last| now - last < refetch) {
                return Err(if cache.last_failed {
                    // The key may well exist: we could not ask. Retry, do not re-login.
                    Error::unavailable(KEYS_UNAVAILABLE)
                } else {
                    unauthenticated("token signed with an unknown key")
                });
            }
            cache.last_fetch = Some(now);
            cache.fetches += 1;
        }
        self.fetch_keys(generation).await?;
        self.cached(kid)
            .ok_or_else(|| unauthenticated("token signed with an unknown key"))
    }

    /// Fetches the issuer's keys and replaces the cached ones (the caller holds `fetching`). A
    /// failed fetch keeps the keys cached before. A known key found withdrawn or replaced moves
    /// `generation` on.
    async fn fetch_keys(&self, generation: &AtomicU64) -> Result<()> {
        let fetched = self.trusted.keys.fetch().await;
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .last_failed = fetched.is_err();
        // The cause (a URL, a TLS or connection error) is for the log, not for the caller.
        let set = fetched.map_err(|e| {
            tracing::warn!(issuer = %self.trusted.issuer, error = %e, "fetching signing keys failed");
            Error::unavailable(KEYS_UNAVAILABLE)
        })?;
        let keys = usable_keys(&set);
        tracing::debug!(issuer = %self.trusted.issuer, keys = keys.len(), "signing keys fetched");
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let withdrawn = cache.keys.iter().any(|(kid, old)| {
            keys.get(kid)
                .is_none_or(|new| new.jwk != old.jwk || new.alg != old.alg)
        });
        if withdrawn {
            generation.fetch_add(1, Ordering::AcqRel);
            tracing::info!(issuer = %self.trusted.issuer, "a signing key was withdrawn or replaced");
        }
        cache.keys = keys;
        Ok(())
    }

    /// Refetches the keys if some are cached (an issuer no token has named yet is left alone).
    async fn refresh(&self, clock: &dyn Clock, generation: &AtomicU64) -> Result<()> {
        let _fetching = self.fetching.lock().await;
        {
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            if cache.keys.is_empty() {
                return Ok(());
            }
            cache.last_fetch = Some(clock.now());
            cache.fetches += 1;
        }
        self.fetch_keys(generation).await
    }
}

/// The signature keys of a set by `kid`; keys without a `kid`, for encryption, or of a shape
/// that cannot verify are left out.
fn usable_keys(set: &JwkSet) -> HashMap<String, Arc<CachedKey>> {
    set.keys
        .iter()
        .filter(|jwk| {
            !matches!(
                jwk.common.public_key_use,
                Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
            )
        })
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            if key.family() == AlgorithmFamily::Hmac {
                return None;
            }
            let alg = jwk.common.key_algorithm;
            let jwk = jwk.clone();
            Some((kid, Arc::new(CachedKey { key, alg, jwk })))
        })
        .collect()
}

/// Verifies access tokens from a set of trusted issuers.
///
/// The issuer is chosen by the token's (unverified) `iss`; then everything is checked against
/// that issuer only: the algorithm is one it is pinned to, the `kid` names one of its keys, the
/// signature verifies, `iss` matches exactly, `aud` is its audience, and `exp`/`nbf` hold with a
/// small leeway on the injected clock. Any failure is
/// [`ErrorCode::Unauthenticated`] with a short reason (a key fetch that fails is
/// [`ErrorCode::Unavailable`]).
///
/// With [`Self::with_verified_token_cache`] (as [`Self::from_settings`] sets it up) a token
/// verified in the last minute is answered from a bounded cache, keyed by the token's SHA-256,
/// while its `nbf`..`exp` window still holds on the clock and no key was withdrawn since.
pub struct Verifier {
    issuers: HashMap<String, IssuerState>,
    leeway: i64,
    refetch: Duration,
    clock: Arc<dyn Clock>,
    verified: Option<VerifiedTokens>,
    /// Moves on whenever a refetch finds a known key withdrawn or replaced.
    key_generation: AtomicU64,
    /// Tokens verified in full (not answered from the cache).
    verifications: AtomicU64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.issuers.keys().collect::<Vec<_>>())
            .field("leeway", &self.leeway)
            .field("refetch", &self.refetch)
            .field("verified_token_cache", &self.verified.is_some())
            .finish()
    }
}

impl Verifier {
    /// A verifier trusting `issuers`, tolerating `leeway` of clock skew and refetching an
    /// issuer's keys at most once per `refetch`.
    pub fn new(
        issuers: Vec<TrustedIssuer>,
        leeway: Duration,
        refetch: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let issuers = issuers
            .into_iter()
            .map(|trusted| {
                let state = IssuerState {
                    trusted,
                    cache: RwLock::new(KeyCache::default()),
                    fetching: tokio::sync::Mutex::new(()),
                };
                (state.trusted.issuer.clone(), state)
            })
            .collect();
        Self {
            issuers,
            leeway: i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX),
            refetch,
            clock,
            verified: None,
            key_generation: AtomicU64::new(0),
            verifications: AtomicU64::new(0),
        }
    }

    /// Keeps up to `capacity` verified tokens for up to a minute (0: none; see the type's
    /// documentation).
    pub fn with_verified_token_cache(mut self, capacity: u64) -> Self {
        self.verified = VerifiedTokens::new(capacity);
        self
    }

    /// The verifier of `settings`: the local issuer with `local_keys` (the identity service's
    /// keys, over HTTP or handed over in-process) and each external issuer with its JWKS URL.
    pub fn from_settings(
        settings: &AuthSettings,
        local_keys: Arc<dyn KeySource>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        // The local issuer's keys come from our own identity service (in-process, or one gRPC
        // call), so a token of a freshly rotated key may refetch them after a second; external
        // issuers' JWKS URLs are asked at most once per `jwks_refetch_seconds`.
        let mut issuers = vec![
            TrustedIssuer::local(&settings.issuer, &settings.audience, local_keys)
                .with_refetch_interval(LOCAL_REFETCH),
        ];
        for (i, external) in settings.external.iter().enumerate() {
            let named = |e: Error| prefix_fields(e, &format!("auth.external[{i}]."));
            let keys = external_key_source(external).map_err(named)?;
            let trusted = TrustedIssuer::external(external, Arc::new(keys)).map_err(named)?;
            if issuers.iter().any(|t| t.issuer == trusted.issuer) {
                return Err(named(Error::invalid_field("issuer", "is trusted twice")));
            }
            issuers.push(trusted);
        }
        Ok(Self::new(
            issuers,
            Duration::from_secs(settings.leeway_seconds),
            Duration::from_secs(settings.jwks_refetch_seconds),
            clock,
        )
        .with_verified_token_cache(settings.verified_token_cache_size))
    }

    /// How many times the keys of `issuer` have been fetched (for tests and metrics).
    pub fn key_fetches(&self, issuer: &str) -> u64 {
        self.issuers.get(issuer).map_or(0, |s| {
            s.cache.read().unwrap_or_else(|e| e.into_inner()).fetches
        })
    }

    /// Refetches the keys of every issuer this verifier has keys of, so a key withdrawn from an
    /// issuer's JWKS stops being accepted even when no token with a new `kid` comes to make it
    /// look (run every `auth.jwks_max_age_seconds` by the node). A fetch that fails keeps the
    /// keys cached before; the first error is returned after every issuer was tried.
    pub async fn refresh_keys(&self) -> Result<()> {
        let mut first_error = None;
        for issuer in self.issuers.values() {
            if let Err(err) = issuer
                .refresh(self.clock.as_ref(), &self.key_generation)
                .await
            {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// How many tokens were verified in full (signature and claims), that is, not answered from
    /// the cache of verified tokens (for tests and metrics).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// The principal an access token speaks for, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Principal> {
        let Some(cache) = &self.verified else {
            return Ok(self.verify_fully(token, 0).await?.principal);
        };
        let key = VerifiedTokens::key(token);
        // Read before verifying: a key withdrawn meanwhile makes this entry stale at once.
        let generation = self.key_generation.load(Ordering::Acquire);
        let now = self.clock.now().unix_timestamp();
        if let Some(principal) = cache.get(&key, now, generation) {
            return Ok(principal);
        }
        let verified = self.verify_fully(token, generation).await?;
        cache.insert(key, verified);
        Ok(verified.principal)
    }

    /// Checks everything about `token`, decoding its header and claims once each.
    async fn verify_fully(&self, token: &str, generation: u64) -> Result<Verified> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        // `header.claims.signature`, exactly as jsonwebtoken splits it.
        let (message, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| malformed())?;
        if header.crit.is_some() {
            return Err(unauthenticated("token has critical header extensions"));
        }
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| unauthenticated("token has no key id (kid)"))?;
        // Not trusted until the signature over them verifies below; `iss` only picks the issuer
        // whose keys and rules apply.
        let claims: Map<String, Value> =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| malformed())?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| unauthenticated("token has no issuer"))?;
        let state = self
            .issuers
            .get(iss)
            .ok_or_else(|| unauthenticated("token issuer is not trusted"))?;
        let issuer = &state.trusted;
        if !issuer.algorithms.contains(&header.alg) {
            return Err(unauthenticated(format!(
                "algorithm {:?} is not accepted from this issuer",
                header.alg
            )));
        }
        let key = state
            .key(kid, self.clock.as_ref(), self.refetch, &self.key_generation)
            .await?;
        if key.alg.is_some_and(|a| a != KeyAlgorithm::from(header.alg))
            || key.key.family() != header.alg.family()
        {
            return Err(unauthenticated("token algorithm does not match its key"));
        }
        let signed =
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.key, header.alg)
                .map_err(|e| unauthenticated(reason(e.kind())))?;
        if !signed {
            return Err(unauthenticated("bad signature"));
        }

        // The claims are the signed ones now.
        for required in ["exp", "iss", "aud", "sub"] {
            if !claims.contains_key(required) {
                return Err(unauthenticated(format!("token has no {required}")));
            }
        }
        if iss != issuer.issuer {
            return Err(unauthenticated("wrong issuer"));
        }
        if !claims
            .get("aud")
            .is_some_and(|aud| audience_matches(aud, &issuer.audience))
        {
            return Err(unauthenticated("wrong audience"));
        }
        let now = self.clock.now().unix_timestamp();
        let exp = time_claim(&claims, "exp")?.ok_or_else(|| unauthenticated("token has no exp"))?;
        let until = exp.saturating_add(self.leeway);
        if now > until {
            return Err(unauthenticated("token expired"));
        }
        let from = match time_claim(&claims, "nbf")? {
            Some(nbf) => nbf.saturating_sub(self.leeway),
            None => i64::MIN,
        };
        if now < from {
            return Err(unauthenticated("token not yet valid"));
        }
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unauthenticated("token has no subject"))?;
        let principal = Principal {
            user_id: issuer.user_id(sub)?,
            role: issuer.roles.role(&claims)?,
        };
        let max_age = i64::try_from(MAX_AGE.as_secs()).unwrap_or(i64::MAX);
        Ok(Verified {
            principal,
            from,
            until: until.min(now.saturating_add(max_age)),
            generation,
        })
    }
}

/// Whether an `aud` claim (a string or an array of strings) names `audience`.
fn audience_matches(aud: &Value, audience: &str) -> bool {
    match aud {
        Value::String(aud) => aud == audience,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    }
}

/// The JWKS source of an external issuer: its URL, trusting the platform's roots and the CA
/// certificates of its `ca_file`, if it has one.
fn external_key_source(external: &ExternalIssuerSettings) -> Result<HttpKeySource> {
    let Some(path) = &external.ca_file else {
        return HttpKeySource::new(&external.jwks_url, JWKS_FETCH_TIMEOUT);
    };
    let pem = std::fs::read(path).map_err(|e| {
        Error::invalid_field("ca_file", format!("cannot read {}: {e}", path.display()))
    })?;
    HttpKeySource::with_ca_pem(&external.jwks_url, JWKS_FETCH_TIMEOUT, &pem)
}

/// A NumericDate claim, whole seconds.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| unauthenticated(format!("token {name} is not a number"))),
    }
}

fn reason(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "bad signature".to_owned(),
        ErrorKind::InvalidIssuer => "wrong issuer".to_owned(),
        ErrorKind::InvalidAudience => "wrong audience".to_owned(),
        ErrorKind::InvalidAlgorithm => "algorithm not accepted".to_owned(),
        ErrorKind::MissingRequiredClaim(c) => format!("token has no {c}"),
        ErrorKind::InvalidClaimFormat(c) => format!("token {c} is malformed"),
        _ => "invalid token".to_owned(),
    }
}

fn prefix_fields(mut err: Error, prefix: &str) -> Error {
    for field in &mut err.errors {
        field.field = format!("{prefix}{}", field.field);
    }
    if err.errors.is_empty() {
        err.message = format!("{prefix}: {}", err.message);
    } else {
        err.message = err
            .errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
    }
    err
}
