//! Rate limiting at the edge: GCRA (the `governor` crate), keyed per verified principal when
//! the request carries one ([`AuthenticatedPrincipal`]), else per client IP (an IPv6 client by
//! its /64), with a stricter quota on `/api/v1/auth/...`. Over the limit the answer is
//! `429` `application/problem+json` (code `rate_limited`) with `Retry-After` in whole seconds.
//!
//! The client IP is the request's [`ClientIp`] (`crate::client_ip`: the TCP peer, or behind a
//! trusted proxy the client it names), else the peer from `ConnectInfo<SocketAddr>`, present
//! when the server is run with `into_make_service_with_connect_info::<SocketAddr>()`; without
//! either (in-process tests) all anonymous requests share one key.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as GovernorClock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use http::{HeaderValue, header};
use innkeeper_kernel::{Error, ErrorCode, UserId};
use innkeeper_platform::auth::AuthenticatedPrincipal;
use innkeeper_platform::http::ClientIp;
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;

/// Paths under this prefix get the stricter authentication quota.
pub const AUTH_PREFIX: &str = "/api/v1/auth/";

/// How often (in checked requests) keys idle long enough to be full again are dropped.
const RETAIN_EVERY: u64 = 4096;

/// `[gateway.rate_limit]`: request quotas per caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Whether requests are limited at all.
    pub enabled: bool,
    /// Sustained requests per second per principal or client IP.
    pub per_second: u32,
    /// Requests a caller may make at once after being idle.
    pub burst: u32,
    /// Sustained requests per minute per caller to `/api/v1/auth/...` (login, register,
    /// refresh): the guard against password guessing.
    pub auth_per_minute: u32,
    /// Requests to `/api/v1/auth/...` a caller may make at once.
    pub auth_burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            per_second: 50,
            burst: 100,
            auth_per_minute: 20,
            auth_burst: 10,
        }
    }
}

impl RateLimitSettings {
    /// The problems of these settings, each naming its key under `prefix`
    /// (`gateway.rate_limit.`); all quotas must be positive.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        [
            ("per_second", self.per_second),
            ("burst", self.burst),
            ("auth_per_minute", self.auth_per_minute),
            ("auth_burst", self.auth_burst),
        ]
        .into_iter()
        .filter(|(_, v)| *v == 0)
        .map(|(k, _)| format!("{prefix}{k}: must be positive"))
        .collect()
    }
}

/// Whom a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A verified principal.
    User(UserId),
    /// An anonymous client: its IPv4 address, or the /64 of its IPv6 address.
    Ip(IpAddr),
    /// An anonymous request whose peer address is unknown.
    Unknown,
}

impl RateKey {
    /// The key of a request: its principal, else its client IP.
    pub fn of(request: &Request) -> Self {
        if let Some(AuthenticatedPrincipal(p)) = request.extensions().get() {
            return RateKey::User(p.user_id);
        }
        if let Some(ClientIp(ip)) = request.extensions().get() {
            return RateKey::Ip(client_prefix(*ip));
        }
        match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => RateKey::Ip(client_prefix(addr.ip())),
            None => RateKey::Unknown,
        }
    }
}

/// IPv4 (also when mapped into IPv6) as is; IPv6 by its /64, the block one client usually has.
fn client_prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !0xffff_ffff_ffff_ffff_u128)),
        },
    }
}

type Limiter<C> = RateLimiter<
    RateKey,
    DefaultKeyedStateStore<RateKey>,
    C,
    NoOpMiddleware<<C as GovernorClock>::Instant>,
>;

/// The two keyed limiters (general and `/auth`) and their clock.
pub struct RateLimits<C: GovernorClock = DefaultClock> {
    general: Limiter<C>,
    auth: Limiter<C>,
    clock: C,
    checks: AtomicU64,
}

impl<C: GovernorClock> std::fmt::Debug for RateLimits<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("general_keys", &self.general.len())
            .field("auth_keys", &self.auth.len())
            .finish()
    }
}

impl RateLimits<DefaultClock> {
    /// Limits of `settings` on the monotonic clock.
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self::with_clock(settings, DefaultClock::default())
    }
}

impl<C: GovernorClock + Clone> RateLimits<C> {
    /// Limits of `settings` on `clock` (tests pass governor's `FakeRelativeClock`). A quota of
    /// zero counts as one; the runtime's configuration check refuses zeros before this.
    pub fn with_clock(settings: &RateLimitSettings, clock: C) -> Self {
        let positive = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        let general =
            Quota::per_second(positive(settings.per_second)).allow_burst(positive(settings.burst));
        let auth = Quota::per_minute(positive(settings.auth_per_minute))
            .allow_burst(positive(settings.auth_burst));
        Self {
            general: RateLimiter::new(general, DefaultKeyedStateStore::default(), clock.clone()),
            auth: RateLimiter::new(auth, DefaultKeyedStateStore::default(), clock.clone()),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request of `key` to `path`; `Err` carries how long until it would pass.
    pub fn check(&self, key: &RateKey, path: &str) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            self.general.retain_recent();
            self.auth.retain_recent();
        }
        let limiter = if path.starts_with(AUTH_PREFIX) {
            &self.auth
        } else {
            &self.general
        };
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// `router` with every request counted against `limits`.
pub fn apply<C>(router: Router, limits: Arc<RateLimits<C>>) -> Router
where
    C: GovernorClock + Clone + Send + Sync + 'static,
    C::Instant: Send + Sync,
{
    router.layer(axum::middleware::from_fn_with_state(limits, limit::<C>))
}

async fn limit<C>(
    State(limits): State<Arc<RateLimits<C>>>,
    request: Request,
    next: Next,
) -> Response
where
    C: GovernorClock + Clone + Send + Sync + 'static,
{
    let key = RateKey::of(&request);
    match limits.check(&key, request.uri().path()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let bucket = if request.uri().path().starts_with(AUTH_PREFIX) {
                "auth"
            } else {
                "general"
            };
            metrics::counter!("innkeeper_rate_limited_total", "bucket" => bucket).increment(1);
            too_many_requests(wait)
        }
    }
}

/// The 429 problem, with `Retry-After` rounded up to whole seconds (at least 1).
fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = ApiError(Error::new(
        ErrorCode::RateLimited,
        format!("too many requests; retry in {seconds} s"),
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use governor::clock::FakeRelativeClock;
    use http::StatusCode;
    use innkeeper_kernel::{Principal, Role};
    use tower::ServiceExt as _;

    use super::*;

    fn settings() -> RateLimitSettings {
        RateLimitSettings {
            enabled: true,
            per_second: 2,
            burst: 3,
            auth_per_minute: 6,
            auth_burst: 2,
        }
    }

    fn app(clock: &FakeRelativeClock) -> Router {
        let router = Router::new()
            .route("/api/v1/hotels", get(|| async { "hotels" }))
            .route("/api/v1/auth/login", get(|| async { "welcome" }));
        apply(
            router,
            Arc::new(RateLimits::with_clock(&settings(), clock.clone())),
        )
    }

    enum Who {
        Nobody,
        Ip(&'static str),
        User(UserId),
    }

    async fn send(app: &Router, path: &str, from: &Who) -> Response {
        let mut request = Request::get(path).body(Body::empty()).expect("request");
        match from {
            Who::Nobody => {}
            Who::Ip(addr) => {
                let addr: SocketAddr = addr.parse().expect("an address");
                request.extensions_mut().insert(ConnectInfo(addr));
            }
            Who::User(id) => {
                request
                    .extensions_mut()
                    .insert(AuthenticatedPrincipal(Principal {
                        user_id: *id,
                        role: Role::Guest,
                    }));
            }
        }
        app.clone().oneshot(request).await.expect("infallible")
    }

    async fn statuses(app: &Router, path: &str, from: &Who, n: usize) -> Vec<u16> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(send(app, path, from).await.status().as_u16());
        }
        out
    }

    #[tokio::test]
    async fn the_request_after_the_burst_is_429_until_time_passes() {
        let clock = FakeRelativeClock::default();
        let app = app(&clock);
        let from = Who::Ip("192.0.2.7:5000");
        assert_eq!(
            statuses(&app, "/api/v1/hotels", &from, 3).await,
            [200, 200, 200]
        );
        let refused = send(&app, "/api/v1/hotels", &from).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            refused.headers()[header::CONTENT_TYPE],
            crate::problem::PROBLEM_JSON
        );
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .expect("body");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(problem["code"], "rate_limited");
        assert_eq!(problem["status"], 429);

        // One request is earned back every 500 ms at 2/s.
        clock.advance(Duration::from_millis(499));
        assert_eq!(statuses(&app, "/api/v1/hotels", &from, 1).await, [429]);
        clock.advance(Duration::from_millis(1));
        assert_eq!(statuses(&app, "/api/v1/hotels", &from, 2).await, [200, 429]);
        // After a full second of idleness, two more; the burst refills in 1.5 s.
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            statuses(&app, "/api/v1/hotels", &from, 3).await,
            [200, 200, 429]
        );
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            statuses(&app, "/api/v1/hotels", &from, 4).await,
            [200, 200, 200, 429]
        );
    }

    #[tokio::test]
    async fn auth_paths_have_their_own_stricter_quota() {
        let clock = FakeRelativeClock::default();
        let app = app(&clock);
        let from = Who::Ip("192.0.2.7:5000");
        assert_eq!(
            statuses(&app, "/api/v1/auth/login", &from, 3).await,
            [200, 200, 429]
        );
        let refused = send(&app, "/api/v1/auth/login", &from).await;
        // 6 per minute: one every 10 s.
        assert_eq!(refused.headers()[header::RETRY_AFTER], "10");
        // The general quota of the same client is untouched.
        assert_eq!(statuses(&app, "/api/v1/hotels", &from, 1).await, [200]);
        clock.advance(Duration::from_secs(9));
        assert_eq!(
            send(&app, "/api/v1/auth/login", &from).await.headers()[header::RETRY_AFTER],
            "1"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            statuses(&app, "/api/v1/auth/login", &from, 2).await,
            [200, 429]
        );
    }

    #[tokio::test]
    async fn callers_are_counted_apart() {
        let clock = FakeRelativeClock::default();
        let app = app(&clock);
        let (alice, bob) = (UserId::new(), UserId::new());
        for from in [
            Who::User(alice),
            Who::User(bob),
            Who::Ip("192.0.2.7:5000"),
            Who::Ip("[2001:db8:1:2::1]:443"),
            Who::Nobody,
        ] {
            assert_eq!(
                statuses(&app, "/api/v1/hotels", &from, 4).await,
                [200, 200, 200, 429]
            );
        }
        // The same client on another port, and the same IPv6 /64, share their key.
        assert_eq!(
            statuses(&app, "/api/v1/hotels", &Who::Ip("192.0.2.7:6000"), 1).await,
            [429]
        );
        assert_eq!(
            statuses(&app, "/api/v1/hotels", &Who::Ip("[2001:db8:1:2::99]:1"), 1).await,
            [429]
        );
        assert_eq!(
            statuses(&app, "/api/v1/hotels", &Who::Ip("[2001:db8:1:3::1]:1"), 1).await,
            [200]
        );
        assert_eq!(
            statuses(&app, "/api/v1/hotels", &Who::Ip("[::ffff:192.0.2.7]:1"), 1).await,
            [429]
        );
    }

    #[test]
    fn zero_quotas_are_reported_by_key() {
        let zero = RateLimitSettings {
            burst: 0,
            auth_per_minute: 0,
            ..RateLimitSettings::default()
        };
        assert_eq!(
            zero.problems("gateway.rate_limit."),
            [
                "gateway.rate_limit.burst: must be positive",
                "gateway.rate_limit.auth_per_minute: must be positive"
            ]
        );
        assert!(RateLimitSettings::default().problems("").is_empty());
    }
}
