//! A real node for tests that drive it over HTTP: every service in one process (gateway,
//! identity, catalog, booking), on SQLite files or on fresh PostgreSQL databases, listening
//! on a free port of 127.0.0.1; a `reqwest` client, the demo hotelier's token and guests.

pub mod race;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use http::{HeaderMap, Method, StatusCode};
use innkeeper_booking::module::BookingModule;
use innkeeper_catalog::api::CatalogClient;
use innkeeper_identity::demo::{DEMO_HOTELIER, DEMO_PASSWORD};
use innkeeper_platform::db::Database;
use innkeeper_platform::testing::{TempDir, TestDatabase};
use innkeeper_runtime::{Config, Node, NodeOptions};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The backends every test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Node tests run one at a time: they measure their wall time, share two cores with the
/// build, and each PostgreSQL node opens dozens of connections.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What came back from the node.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as sent.
    pub bytes: Vec<u8>,
    /// The body as JSON (`Null` if it is not JSON).
    pub body: Value,
}

impl Reply {
    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Whether this is a problem document with this status and code.
    pub fn is_problem(&self, status: u16, code: &str) -> bool {
        self.status.as_u16() == status
            && self.header("content-type") == "application/problem+json"
            && self.body["status"] == status
            && self.body["code"] == code
    }

    /// A short description: status, and the problem code if any.
    pub fn summary(&self) -> String {
        match self.body["code"].as_str() {
            Some(code) => format!("{} {code}", self.status.as_u16()),
            None => self.status.as_u16().to_string(),
        }
    }
}

/// A node serving on a free port, with its databases, until dropped or stopped.
pub struct TestNode {
    pub backend: Backend,
    pub addr: SocketAddr,
    pub config: Config,
    pub http: reqwest::Client,
    /// The catalog as the node reaches it (in-process), for reading holds.
    pub catalog: CatalogClient,
    /// The demo hotelier's access token: the owner of the hotels tests open.
    pub owner: String,
    stop: CancellationToken,
    serving: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: TempDir,
    _dbs: Vec<TestDatabase>,
}

impl TestNode {
    /// Builds and serves a node on `backend` with these configuration overrides (on top of
    /// a free port, no gRPC listener and no rate limit: every test client is 127.0.0.1).
    /// `None` when the backend is PostgreSQL and it is down off CI (skipped loudly by
    /// [`TestDatabase::postgres`]; under CI that panics instead).
    pub async fn start(backend: Backend, more: &[(&'static str, Value)]) -> Option<TestNode> {
        let dir = TempDir::new("runtime_races");
        let mut overrides = vec![
            ("node.data_dir", json!(dir.path)),
            ("node.listen", json!("127.0.0.1:0")),
            ("node.grpc_listen", json!("")),
            ("gateway.rate_limit.enabled", json!(false)),
        ];
        let mut dbs = Vec::new();
        if backend == Backend::Postgres {
            for key in [
                "catalog.database_url",
                "identity.database_url",
                "booking.database_url",
            ] {
                let db = TestDatabase::postgres().await?;
                overrides.push((key, json!(db.url)));
                // The node opens its own pools; the helper's is only for dropping the database.
                db.db.close().await;
                dbs.push(db);
            }
        }
        overrides.extend_from_slice(more);
        let config = Config::load(None, &overrides).expect("config");
        let node = Node::build(&config, NodeOptions::default())
            .await
            .expect("node");
        let identity = node.local_identity().expect("`all` runs identity");
        innkeeper_identity::demo::seed_demo(&identity.service)
            .await
            .expect("demo accounts");
        let catalog = node.catalog();
        let addr = node.http_addr();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let serving =
            tokio::spawn(node.run_until_stopped(async move { stopped.cancelled().await }));
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        let mut node = TestNode {
            backend,
            addr,
            config,
            http,
            catalog,
            owner: String::new(),
            stop,
            serving: Some(serving),
            _dir: dir,
            _dbs: dbs,
        };
        node.owner = node.login(DEMO_HOTELIER.email, DEMO_PASSWORD).await;
        Some(node)
    }

    /// Sends a request with `token` (if any) and JSON `body` (if any).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self
            .http
            .request(method.clone(), format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: body: {e}"))
            .to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            bytes,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), &[], None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(token), &[], Some(body))
            .await
    }

    /// Logs an account in through the API; returns its access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let reply = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                None,
                &[],
                Some(&json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login: {}", reply.text());
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Registers `n` guests through the API and logs them in (a few at a time: each is two
    /// argon2 hashes); their access tokens, in order. The tokens outlive any test here.
    pub async fn guests(&self, n: usize) -> Vec<String> {
        let started = Instant::now();
        let tokens: Vec<(usize, String)> = futures::stream::iter(0..n)
            .map(|i| async move {
                let email = format!("guest{i}@races.test");
                let password = format!("Race guest {i} password");
                let reply = self
                    .send(
                        Method::POST,
                        "/api/v1/auth/register",
                        None,
                        &[],
                        Some(&json!({"email": email, "password": password,
                                     "name": format!("Guest {i}"), "role": "guest"})),
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
                (i, self.login(&email, &password).await)
            })
            .buffer_unordered(2)
            .collect()
            .await;
        let mut tokens = tokens;
        tokens.sort_by_key(|(i, _)| *i);
        eprintln!(
            "[{:?}] {n} guests registered and logged in in {:.1?}",
            self.backend,
            started.elapsed()
        );
        tokens.into_iter().map(|(_, t)| t).collect()
    }

    /// Opens a hotel of the demo hotelier; its id.
    pub async fn hotel(&self, name: &str) -> String {
        let reply = self
            .post(
                "/api/v1/hotels",
                &self.owner,
                &json!({
                    "name": name,
                    "description": "By the river",
                    "address": "Rua Augusta 1",
                    "city": "Lisbon",
                    "country": "PT",
                    "location": {"lat": 38.7101, "lon": -9.1366},
                    "stars": 4,
                    "currency": "EUR",
                    "timezone": "Europe/Lisbon"
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.body["id"].as_str().expect("id").to_owned()
    }

    /// Adds a room type sleeping two at `base` cents and `rooms` ready rooms of it; its id.
    pub async fn room_type(&self, hotel: &str, name: &str, base: i64, rooms: u32) -> String {
        let reply = self
            .post(
                &format!("/api/v1/hotels/{hotel}/room-types"),
                &self.owner,
                &json!({"name": name, "capacity": 2, "beds": [{"kind": "double", "count": 1}],
                        "amenities": ["wifi"], "base_price": {"amount": base, "currency": "EUR"}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let room_type = reply.body["id"].as_str().expect("id").to_owned();
        for n in 0..rooms {
            let reply = self
                .post(
                    &format!("/api/v1/hotels/{hotel}/rooms"),
                    &self.owner,
                    &json!({"number": format!("{name}-{n}"), "floor": 1,
                            "room_type_id": room_type}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        }
        room_type
    }

    /// The owner's view of a hotel's counters for the nights `[from, to)`, through
    /// `GET /hotels/{id}/inventory`: `(room type, night, total, held, sold)`.
    pub async fn inventory(
        &self,
        hotel: &str,
        from: time::Date,
        to: time::Date,
    ) -> Vec<(String, String, u32, u32, u32)> {
        let reply = self
            .get(
                &format!("/api/v1/hotels/{hotel}/inventory?from={from}&to={to}"),
                &self.owner,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let count = |v: &Value| u32::try_from(v.as_u64().expect("a count")).expect("small");
        let mut nights: Vec<_> = reply
            .body
            .as_array()
            .expect("nights")
            .iter()
            .map(|n| {
                (
                    n["room_type_id"].as_str().expect("room type").to_owned(),
                    n["night"].as_str().expect("night").to_owned(),
                    count(&n["total"]),
                    count(&n["held"]),
                    count(&n["sold"]),
                )
            })
            .collect();
        nights.sort();
        nights
    }

    /// Every booking of a hotel, as its owner lists them (all pages), optionally only the
    /// stays touching `[from, to)`.
    pub async fn hotel_bookings(
        &self,
        hotel: &str,
        window: Option<(time::Date, time::Date)>,
    ) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/bookings?hotel_id={hotel}&limit=100");
            if let Some((from, to)) = window {
                path.push_str(&format!("&from={from}&to={to}"));
            }
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let reply = self.get(&path, &self.owner).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            all.extend(
                reply.body["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .cloned(),
            );
            match reply.body["next_cursor"].as_str() {
                Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
                _ => return all,
            }
        }
    }

    /// A second booking module on the node's booking database, for its payment consumer:
    /// the node subscribes `booking.payment_outcomes` only with Kafka (nothing publishes
    /// `payment.events` on the bus yet), so tests deliver `payment.succeeded` through a
    /// dispatcher of their own, as the Kafka consumer would, on the same database and inbox.
    pub async fn payment_consumer(&self) -> (Arc<dyn innkeeper_events::Consumer>, Database) {
        let db = innkeeper_runtime::connect(
            &self.config,
            &self.config.booking_database_url(),
            2,
            "booking.database_url",
        )
        .await
        .expect("booking database");
        let module = BookingModule::start(
            &db,
            self.catalog.clone(),
            None,
            Arc::new(innkeeper_kernel::SystemClock),
            self.config.booking_settings(),
        )
        .await
        .expect("booking module");
        (module.payment_outcomes, db)
    }

    /// Stops serving and waits for a clean stop.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(serving) = self.serving.take() {
            serving.await.expect("join").expect("clean stop");
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The first night tests book: a week from today, so no stay is ever in the past.
pub fn first_night() -> time::Date {
    use innkeeper_kernel::Clock as _;
    innkeeper_kernel::SystemClock.today() + time::Duration::days(7)
}
