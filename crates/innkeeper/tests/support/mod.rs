//! What the process-level tests share: the real `innkeeper` binary run as child processes that
//! can be killed (`SIGKILL`) and started again with the same arguments and environment, the
//! six-process split shape with payments (each service on its own database, events over
//! Kafka), and the REST client helpers a test drives it with.
//!
//! Each test binary (`e2e`, `crash`) uses part of this module, so items one of them does not
//! use are not dead code.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use innkeeper_events::testing::Tansu;
use innkeeper_platform::testing::TestDatabase;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_innkeeper");

/// The provider imitation's API key in the compiled-in defaults.
pub const PROVIDER_KEY: &str = "sk_test_innkeeper_development_only";

/// A child `innkeeper` process, killed when dropped. It remembers how it was started, so a
/// test can kill it hard ([`Process::kill`]: `SIGKILL`, no shutdown of any kind) and start it
/// again on the same ports and databases ([`Process::restart`]).
pub struct Process {
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn start(args: &[&str], env: &[(&str, String)], dir: &Path) -> Process {
        let mut process = Process {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            dir: dir.to_owned(),
            child: None,
        };
        process.child = Some(process.spawn());
        process
    }

    fn spawn(&self) -> Child {
        let mut cmd = Command::new(BIN);
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .env("INNKEEPER__TELEMETRY__LOG_FORMAT", "json")
            .env("RUST_LOG", "warn");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if std::env::var_os("TEST_LOG").is_none() {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        cmd.spawn().expect("spawn innkeeper")
    }

    /// Whether the process has ended (on its own or killed).
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| !matches!(child.try_wait(), Ok(None)))
    }

    /// Kills the process with `SIGKILL` (as a crash or an OOM kill would) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same arguments and environment (killing it first if
    /// it runs).
    pub fn restart(&mut self) {
        self.kill();
        self.child = Some(self.spawn());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr")
}

pub fn spawn(args: &[&str], env: &[(&str, String)], dir: &Path) -> Process {
    Process::start(args, env, dir)
}

/// `innkeeper serve --target <target>` listening for HTTP on `http` and, if given, gRPC on
/// `grpc`.
pub fn serve(
    dir: &Path,
    target: &str,
    http: SocketAddr,
    grpc: Option<SocketAddr>,
    env: &[(&str, String)],
) -> Process {
    let (http, grpc) = (http.to_string(), grpc.map(|a| a.to_string()));
    let mut args = vec!["serve", "--target", target, "--listen", &http];
    if let Some(grpc) = &grpc {
        args.extend(["--grpc-listen", grpc.as_str()]);
    }
    spawn(&args, env, dir)
}

pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(resp) = http.get(format!("{base}/health/ready")).send().await
            && resp.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{base} did not become ready in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client sending `token` as its bearer.
pub fn bearer(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// Registers an account of `role` and logs it in; a client sending its access token.
pub async fn account(api: &str, role: &str) -> reqwest::Client {
    let anonymous = reqwest::Client::new();
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = format!("a long {role} passphrase 1");
    let resp = anonymous
        .post(format!("{api}/auth/register"))
        .json(&json!({"email": email, "password": password, "name": "Ana Lima", "role": role}))
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 201, "register {role}");
    let tokens: Value = anonymous
        .post(format!("{api}/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    bearer(tokens["access_token"].as_str().expect("access token"))
}

/// A hotelier's new hotel (`hotel`: name, address, city, country, location, currency) with one
/// room type (`room_type`: name, capacity, base price) and a room per number, through the
/// REST API; answers `(hotel id, room type id)`.
pub async fn hotel_with_rooms(
    api: &str,
    hotelier: &reqwest::Client,
    hotel: serde_json::Value,
    room_type: serde_json::Value,
    numbers: &[&str],
) -> (String, String) {
    let created = |resp: reqwest::Response, what: &'static str| async move {
        assert_eq!(resp.status(), 201, "{what}");
        resp.json::<serde_json::Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let resp = hotelier
        .post(format!("{api}/hotels"))
        .json(&hotel)
        .send()
        .await;
    let hotel_id = created(resp.expect("create hotel"), "hotel").await;
    let resp = hotelier
        .post(format!("{api}/hotels/{hotel_id}/room-types"))
        .json(&room_type)
        .send()
        .await;
    let room_type_id = created(resp.expect("room type"), "room type").await;
    for number in numbers {
        let resp = hotelier
            .post(format!("{api}/hotels/{hotel_id}/rooms"))
            .json(&serde_json::json!({"number": number, "floor": 1, "room_type_id": room_type_id}))
            .send()
            .await;
        created(resp.expect("room"), "room").await;
    }
    (hotel_id, room_type_id)
}

/// The five PostgreSQL databases of the split shape with payments (identity, catalog,
/// booking, payment, payment-provider), or `None` where a test skips (off CI, PostgreSQL
/// down).
pub async fn payment_shape_databases() -> Option<[TestDatabase; 5]> {
    let mut databases = Vec::new();
    for _ in 0..5 {
        databases.push(TestDatabase::postgres().await?);
    }
    databases.try_into().ok()
}

/// The split shape with payments: identity, catalog, booking, payment, the provider imitation
/// and the gateway as six processes, each service on its own PostgreSQL database, events over
/// Kafka. The booking service opens payments at the payment service over gRPC under its
/// service credential; the provider (an external system here) signs its webhooks to the
/// payment process. Every process can be killed and restarted on its ports and database.
pub struct PaymentShape {
    pub identity: Process,
    pub catalog: Process,
    pub provider: Process,
    pub payment: Process,
    pub booking: Process,
    pub gateway: Process,
    pub identity_http: SocketAddr,
    pub catalog_http: SocketAddr,
    pub provider_http: SocketAddr,
    pub payment_http: SocketAddr,
    pub booking_http: SocketAddr,
    pub gateway_http: SocketAddr,
    /// The provider's base URL (its API, checkout pages and `/_admin`).
    pub provider_url: String,
}

impl PaymentShape {
    /// Starts the six processes in `dir`, on `databases` (identity, catalog, booking, payment,
    /// payment-provider) and `tansu`; `booking_env` and `gateway_env` are added to the
    /// booking and gateway processes' environments.
    pub fn start(
        dir: &Path,
        tansu: &Tansu,
        databases: &[TestDatabase; 5],
        booking_env: &[(&'static str, String)],
        gateway_env: &[(&'static str, String)],
    ) -> PaymentShape {
        let [identity_db, catalog_db, booking_db, payment_db, provider_db] = databases;
        let (identity_http, identity_grpc) = (free_addr(), free_addr());
        let (catalog_http, catalog_grpc) = (free_addr(), free_addr());
        let (booking_http, booking_grpc) = (free_addr(), free_addr());
        let (payment_http, payment_grpc) = (free_addr(), free_addr());
        let (provider_http, gateway_http) = (free_addr(), free_addr());
        let provider_url = format!("http://{provider_http}/provider");
        let endpoint = |key: &'static str, addr: SocketAddr| (key, format!("http://{addr}"));
        let identity_endpoint = endpoint("INNKEEPER__IDENTITY__ENDPOINT", identity_grpc);
        let catalog_endpoint = endpoint("INNKEEPER__CATALOG__ENDPOINT", catalog_grpc);
        let payment_endpoint = endpoint("INNKEEPER__PAYMENT__ENDPOINT", payment_grpc);
        // Every service publishes and consumes through the broker, promptly.
        let kafka = [
            ("INNKEEPER__EVENTS__TRANSPORT", "kafka".to_owned()),
            ("INNKEEPER__EVENTS__KAFKA_BROKERS", tansu.brokers()),
            ("INNKEEPER__EVENTS__KAFKA_FETCH_WAIT_MS", "10".to_owned()),
            ("INNKEEPER__EVENTS__POLL_INTERVAL_MS", "10".to_owned()),
            // A consumer killed by the crash test gives its partitions up within 2 s.
            (
                "INNKEEPER__EVENTS__KAFKA_SESSION_TIMEOUT_MS",
                "2000".to_owned(),
            ),
        ];
        let with_kafka = |env: &[(&'static str, String)]| {
            let mut all = env.to_vec();
            all.extend(kafka.iter().cloned());
            all
        };
        let service_secret = (
            "INNKEEPER__AUTH__SERVICE_SECRET",
            "e2e-service-secret".to_owned(),
        );
        let identity = serve(
            dir,
            "identity",
            identity_http,
            Some(identity_grpc),
            &with_kafka(&[
                ("INNKEEPER__IDENTITY__DATABASE_URL", identity_db.url.clone()),
                service_secret.clone(),
            ]),
        );
        let catalog = serve(
            dir,
            "catalog",
            catalog_http,
            Some(catalog_grpc),
            &with_kafka(&[
                ("INNKEEPER__CATALOG__DATABASE_URL", catalog_db.url.clone()),
                identity_endpoint.clone(),
            ]),
        );
        // The card processor: its checkout links and API on its own listener, its webhooks to
        // the payment process.
        let provider = serve(
            dir,
            "payment-provider",
            provider_http,
            None,
            &[
                (
                    "INNKEEPER__PAYMENT_PROVIDER__DATABASE_URL",
                    provider_db.url.clone(),
                ),
                (
                    "INNKEEPER__PAYMENT_PROVIDER__PUBLIC_URL",
                    provider_url.clone(),
                ),
                (
                    "INNKEEPER__PAYMENT_PROVIDER__WEBHOOK_URL",
                    format!("http://{payment_http}/api/v1/payments/webhook"),
                ),
                (
                    "INNKEEPER__PAYMENT_PROVIDER__WEBHOOK_POLL_INTERVAL_MS",
                    "20".to_owned(),
                ),
                (
                    "INNKEEPER__PAYMENT_PROVIDER__WEBHOOK_BACKOFF_BASE_MS",
                    "50".to_owned(),
                ),
                identity_endpoint.clone(),
            ],
        );
        let payment = serve(
            dir,
            "payment",
            payment_http,
            Some(payment_grpc),
            &with_kafka(&[
                ("INNKEEPER__PAYMENT__DATABASE_URL", payment_db.url.clone()),
                ("INNKEEPER__PAYMENT__PROVIDER_URL", provider_url.clone()),
                (
                    "INNKEEPER__PAYMENT__WORKER_POLL_INTERVAL_MS",
                    "20".to_owned(),
                ),
                identity_endpoint.clone(),
            ]),
        );
        let mut booking_all = with_kafka(&[
            ("INNKEEPER__BOOKING__DATABASE_URL", booking_db.url.clone()),
            catalog_endpoint.clone(),
            identity_endpoint.clone(),
            payment_endpoint.clone(),
            service_secret,
        ]);
        booking_all.extend(booking_env.iter().cloned());
        let booking = serve(
            dir,
            "booking",
            booking_http,
            Some(booking_grpc),
            &booking_all,
        );
        let mut gateway_all = vec![
            catalog_endpoint,
            identity_endpoint,
            endpoint("INNKEEPER__BOOKING__ENDPOINT", booking_grpc),
            payment_endpoint,
        ];
        gateway_all.extend(gateway_env.iter().cloned());
        let gateway = serve(dir, "gateway", gateway_http, None, &gateway_all);
        PaymentShape {
            identity,
            catalog,
            provider,
            payment,
            booking,
            gateway,
            identity_http,
            catalog_http,
            provider_http,
            payment_http,
            booking_http,
            gateway_http,
            provider_url,
        }
    }

    /// Starts again every process that has ended; answers their names.
    pub fn restart_exited(&mut self) -> Vec<&'static str> {
        let mut exited = Vec::new();
        for (name, process) in [
            ("identity", &mut self.identity),
            ("catalog", &mut self.catalog),
            ("payment-provider", &mut self.provider),
            ("payment", &mut self.payment),
            ("booking", &mut self.booking),
            ("gateway", &mut self.gateway),
        ] {
            if process.exited() {
                process.restart();
                exited.push(name);
            }
        }
        exited
    }

    /// The REST edge's base URL.
    pub fn base(&self) -> String {
        format!("http://{}", self.gateway_http)
    }

    /// Waits until every process answers ready.
    pub async fn wait_ready(&self, http: &reqwest::Client) {
        for addr in [
            self.identity_http,
            self.catalog_http,
            self.provider_http,
            self.payment_http,
            self.booking_http,
            self.gateway_http,
        ] {
            wait_ready(http, &format!("http://{addr}")).await;
        }
    }
}
