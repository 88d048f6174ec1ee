//! The public edge: the REST API under `/api/v1`, its OpenAPI 3.1 document at
//! `/api/openapi.json` and the browsable reference at `/docs`.
//!
//! Tour:
//! - [`router`]: the one entry point; the runtime merges it with `/metrics` and `/health/*`.
//! - `routes/`: one file per resource family; every handler carries `#[utoipa::path]`, so the
//!   OpenAPI document is generated from the code that answers.
//! - `problem`: [`ApiError`], the only error type handlers return, rendered as RFC 9457
//!   `application/problem+json`; also the layers that turn axum's own bare 404/405/413 and
//!   handler panics into problem documents.
//! - `extract`: extractors whose failures are problems naming the field: JSON bodies,
//!   `If-Match`, path ids and query strings.
//! - [`auth`]: who the caller is ([`auth::Caller`]); today a development stand-in.
//! - [`client_ip`]: the client's address, from a trusted proxy's forwarding header or the TCP
//!   peer; for the rate limiter and the access log.
//! - [`ratelimit`]: GCRA quotas per principal or client IP, stricter on `/api/v1/auth/...`;
//!   429 problems with `Retry-After`.
//!
//! Validation at the edge builds kernel values (`StayDates`, `GeoPoint`, ...) before the catalog
//! is called, so a bad request never reaches a store; the catalog still checks ownership and
//! its own rules.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use http::StatusCode;
use innkeeper_booking::api::BookingClient;
use innkeeper_catalog::api::CatalogClient;
use innkeeper_identity::api::IdentityClient;
use innkeeper_kernel::{Clock, SystemClock};
use innkeeper_platform::auth::Verifier;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub mod auth;
pub mod client_ip;
mod extract;
mod pages;
mod params;
mod problem;
pub mod ratelimit;
mod routes;

pub use client_ip::{ClientIpHeader, TrustedProxies};
pub use problem::{ApiError, Problem};
pub use ratelimit::RateLimitSettings;

/// Where the versioned API is mounted.
pub const API_V1: &str = "/api/v1";
/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where the Swagger UI is served (`/docs` redirects to `/docs/`).
pub const DOCS_PATH: &str = "/docs";

/// The services behind the edge (local or remote, the gateway cannot tell) and the verifier
/// of access tokens.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Hotels, inventory, search.
    pub catalog: CatalogClient,
    /// Accounts and tokens.
    pub identity: IdentityClient,
    /// Bookings, when this node reaches a booking service (the routes answer 503 otherwise).
    pub booking: Option<BookingClient>,
    /// Payments (`GET /payments/{id}`), when the payment service runs in this process (the
    /// route answers 503 otherwise).
    pub payment: Option<innkeeper_payment::api::PaymentClient>,
    /// Checks the bearer tokens of requests.
    pub verifier: Arc<Verifier>,
}

/// Tunables of the REST edge.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Largest request body accepted, bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Longest stay that can be searched.
    pub max_nights: u32,
    /// Most guests one search may ask for.
    pub max_guests: u32,
    /// Longest a request may take; slower ones get 504 `timeout`.
    pub request_timeout: Duration,
    /// Where "today" comes from (stays may not start in the past).
    pub clock: Arc<dyn Clock>,
    /// Request quotas per principal / client IP.
    pub rate_limit: RateLimitSettings,
    /// Reverse proxies whose forwarding header names the client (`gateway.trusted_proxies`).
    pub trusted_proxies: TrustedProxies,
    /// The header they name it in (`gateway.client_ip_header`).
    pub client_ip_header: ClientIpHeader,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_nights: 30,
            max_guests: 50,
            request_timeout: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
            rate_limit: RateLimitSettings::default(),
            trusted_proxies: TrustedProxies::default(),
            client_ip_header: ClientIpHeader::default(),
        }
    }
}

/// The REST API: `/api/v1/...`, `/api/openapi.json` and `/docs`.
///
/// Every failure under `/api` (including unknown routes, wrong methods, oversized bodies,
/// requests slower than `request_timeout` and panics) is answered with
/// `application/problem+json`. The router has no fallback of its own,
/// so the runtime can merge it with other routers.
pub fn router(upstream: Upstream, settings: GatewaySettings) -> Router {
    let max_body_bytes = settings.max_body_bytes;
    let request_timeout = settings.request_timeout;
    let rate_limit = settings.rate_limit.clone();
    let verifier = upstream.verifier.clone();
    let client_ip = Arc::new(client_ip::ClientIpResolver::new(
        settings.trusted_proxies.clone(),
        settings.client_ip_header,
    ));
    let (api, openapi) = api_router(upstream, settings);
    let router = Router::new()
        .merge(api)
        .merge(SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, openapi))
        .route("/bookings/{id}", axum::routing::get(pages::payment_return))
        .route("/api", axum::routing::any(problem::unknown_route))
        .route("/api/{*rest}", axum::routing::any(problem::unknown_route))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            request_timeout,
        ));
    // Inside `render_problems`, so a 429 gets its `instance` like any other problem.
    let router = if rate_limit.enabled {
        ratelimit::apply(router, Arc::new(ratelimit::RateLimits::new(&rate_limit)))
    } else {
        router
    };
    // Authentication runs before the rate limiter, which keys verified callers by principal.
    // The client IP is resolved first of all, so every response (even a 401, a 413 or a
    // panic's 500) carries it to the access log.
    router
        .layer(axum::middleware::from_fn_with_state(
            verifier,
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn(problem::render_problems))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(CatchPanicLayer::custom(problem::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            client_ip,
            client_ip::resolve,
        ))
}

/// The OpenAPI document of the API, as served at [`OPENAPI_PATH`] (for export by the CLI).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut api = documented_routes().into_openapi();
    routes::document_other_failures(&mut api);
    api
}

fn documented_routes() -> OpenApiRouter<routes::AppState> {
    OpenApiRouter::with_openapi(routes::ApiDoc::openapi())
        .merge(routes::well_known())
        .nest(API_V1, routes::api_v1())
}

fn api_router(upstream: Upstream, settings: GatewaySettings) -> (Router, utoipa::openapi::OpenApi) {
    let state = routes::AppState {
        catalog: upstream.catalog,
        identity: upstream.identity,
        booking: upstream.booking,
        payment: upstream.payment,
        settings: Arc::new(settings),
    };
    let (router, mut api) = documented_routes().with_state(state).split_for_parts();
    routes::document_other_failures(&mut api);
    (router, api)
}
