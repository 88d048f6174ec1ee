//! The test app: the router over the real catalog, identity and booking services, each on a
//! fresh SQLite database, and helpers to send requests and read problem documents.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use innkeeper_booking::BookingSettings;
use innkeeper_booking::api::BookingClient;
use innkeeper_booking::module::BookingModule;
use innkeeper_catalog::api::CatalogClient;
use innkeeper_catalog::{CatalogService, CatalogSettings};
use innkeeper_gateway::{GatewaySettings, Upstream, router};
use innkeeper_identity::api::IdentityClient;
use innkeeper_identity::demo::{DEMO_HOTELIER, DEMO_PASSWORD};
use innkeeper_identity::module::IdentityModule;
use innkeeper_identity::{IdentityService, IdentitySettings};
use innkeeper_kernel::{ManualClock, UserId};
use innkeeper_platform::auth::{AuthSettings, Verifier};
use innkeeper_platform::testing::TestDatabase;
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt as _;

/// The router over a real catalog and a real identity service, and what the test may poke
/// at directly. Requests carry `token` (the demo hotelier's, who owns what tests create)
/// unless they set their own `authorization` header.
pub struct TestApp {
    pub router: Router,
    pub catalog: CatalogClient,
    pub identity: IdentityClient,
    /// The in-process identity service, for what only the CLI may do (keys, admins).
    pub identity_service: Arc<IdentityService>,
    pub clock: Arc<ManualClock>,
    pub token: Option<String>,
    /// The gateway's token verifier (to count verifications).
    pub verifier: Arc<Verifier>,
    _dbs: Arc<(TestDatabase, TestDatabase, TestDatabase)>,
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem document with this status and code, naming `field` if given.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert_eq!(
            self.body["type"],
            format!("https://innkeeper.dev/problems/{code}")
        );
        assert!(
            self.body["title"].is_string() && self.body["detail"].is_string(),
            "{}",
            self.text
        );
        if let Some(field) = field {
            let named = self.body["errors"]
                .as_array()
                .is_some_and(|errors| errors.iter().any(|e| e["field"] == field));
            assert!(named, "expected `{field}` named in {}", self.text);
        }
    }
}

/// An admin account every test app has (password `DEMO_PASSWORD`).
pub const ADMIN_EMAIL: &str = "admin@innkeeper.test";

pub const TODAY: time::OffsetDateTime = datetime!(2026-11-22 10:00 UTC);

/// The app, with requests acting as the demo hotelier.
/// The platform's service secret in these tests.
pub const SERVICE_SECRET: &str = "rest-test-service-secret";

pub async fn app() -> TestApp {
    let mut app = anonymous_app().await;
    app.token = Some(app.login(DEMO_HOTELIER.email).await);
    app
}

/// The app, with requests sent without a token.
pub async fn anonymous_app() -> TestApp {
    let db = TestDatabase::sqlite().await;
    let store = innkeeper_catalog::module::open_store(&db.db)
        .await
        .expect("open catalog store");
    let clock = Arc::new(ManualClock::new(TODAY));
    let service = CatalogService::new(store, clock.clone(), CatalogSettings::default());
    let catalog = CatalogClient::new(Arc::new(service));

    let identity_db = TestDatabase::sqlite().await;
    let identity_settings = IdentitySettings {
        service_secret: innkeeper_identity::ServiceSecret(SERVICE_SECRET.to_owned()),
        ..IdentitySettings::default()
    };
    let module = IdentityModule::start(&identity_db.db, clock.clone(), identity_settings)
        .await
        .expect("start identity");
    innkeeper_identity::demo::seed_demo(&module.service)
        .await
        .expect("demo accounts");
    module
        .service
        .create_admin(ADMIN_EMAIL, DEMO_PASSWORD.to_owned(), "Ada Admin")
        .await
        .expect("admin account");
    let identity = IdentityClient::new(module.service.clone());
    let verifier = Verifier::from_settings(
        &AuthSettings::default(),
        innkeeper_identity::verification::key_source(identity.clone()),
        clock.clone(),
    )
    .expect("verifier");
    let verifier = Arc::new(verifier);
    let settings = GatewaySettings {
        clock: clock.clone(),
        rate_limit: innkeeper_gateway::RateLimitSettings {
            enabled: false,
            ..Default::default()
        },
        ..GatewaySettings::default()
    };
    // Bookings over the same catalog, on their own database (as in a node).
    let booking_db = TestDatabase::sqlite().await;
    let booking = BookingModule::start(
        &booking_db.db,
        catalog.clone(),
        None,
        clock.clone(),
        BookingSettings::default(),
    )
    .await
    .expect("start bookings");
    let booking = BookingClient::new(booking.service);
    let upstream = Upstream {
        catalog: catalog.clone(),
        identity: identity.clone(),
        booking: Some(booking),
        payment: None,
        verifier: verifier.clone(),
    };
    TestApp {
        router: router(upstream, settings),
        catalog,
        identity,
        identity_service: module.service.clone(),
        clock,
        token: None,
        verifier,
        _dbs: Arc::new((db, identity_db, booking_db)),
    }
}

pub async fn call(router: &Router, request: Request<Body>) -> Reply {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

impl TestApp {
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = &self.token
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        call(&self.router, request.expect("request")).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, &[], None).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::POST, uri, &[], Some(body)).await
    }

    pub async fn put(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::PUT, uri, &[], Some(body)).await
    }

    pub async fn patch(&self, uri: &str, if_match: &str, body: Value) -> Reply {
        self.send(Method::PATCH, uri, &[("if-match", if_match)], Some(body))
            .await
    }

    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        call(&self.router, request.body(body.into()).expect("request")).await
    }

    /// Logs a demo account in through the API; returns its access token.
    pub async fn login(&self, email: &str) -> String {
        self.login_with(email, DEMO_PASSWORD).await
    }

    /// Logs an account in through the API; returns its access token.
    pub async fn login_with(&self, email: &str, password: &str) -> String {
        let reply = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                &[],
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// The same app acting with another token (or none).
    pub fn acting_as(&self, token: Option<String>) -> TestApp {
        TestApp {
            router: self.router.clone(),
            catalog: self.catalog.clone(),
            identity: self.identity.clone(),
            identity_service: self.identity_service.clone(),
            clock: self.clock.clone(),
            token,
            verifier: self.verifier.clone(),
            _dbs: self._dbs.clone(),
        }
    }

    /// Opens a hotel in Lisbon; returns its id.
    pub async fn hotel(&self, name: &str) -> String {
        let reply = self.post("/api/v1/hotels", new_hotel(name)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    /// Adds a room type sleeping `capacity` at `base` cents and `rooms` rooms of it.
    pub async fn room_type(
        &self,
        hotel: &str,
        name: &str,
        capacity: u32,
        base: i64,
        rooms: u32,
    ) -> String {
        let reply = self
            .post(
                &format!("/api/v1/hotels/{hotel}/room-types"),
                json!({"name": name, "capacity": capacity, "beds": [{"kind": "double", "count": 1}],
                       "amenities": ["wifi"], "base_price": {"amount": base, "currency": "EUR"}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let rt = reply.body["id"].as_str().expect("id").to_owned();
        for n in 0..rooms {
            // Numbers unique per hotel: "Double" gives 601, 602...
            let number = format!("{}{:02}", name.len(), n + 1);
            let reply = self
                .post(
                    &format!("/api/v1/hotels/{hotel}/rooms"),
                    json!({"number": number, "floor": 1, "room_type_id": rt}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        }
        rt
    }
}

pub fn new_hotel(name: &str) -> Value {
    json!({
        "name": name,
        "description": "By the river",
        "address": "Rua Augusta 1",
        "city": "Lisbon",
        "country": "PT",
        "location": {"lat": 38.7101, "lon": -9.1366},
        "stars": 4,
        "currency": "EUR",
        "timezone": "Europe/Lisbon"
    })
}

pub fn uuid_v4() -> String {
    UserId::new().to_string()
}
