//! The service against the real payment-provider imitation, both served on loopback ports:
//! the provider's webhook worker delivers to our webhook route over HTTP.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use innkeeper_events::{Consumer, Outbox, Payload, Tx};
use innkeeper_kernel::{Currency, ErrorCode, Money, Principal, SystemClock, UserId};
use innkeeper_payment_provider::webhook_signature::{self, WebhookSecret};
use innkeeper_payment_provider::{PaymentProviderConfig, PaymentProviderModule};
use innkeeper_platform::resilience::BreakerState;
use innkeeper_platform::testing::TestDatabase;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::*;
use crate::api::{NewIntent, PaymentClient, PaymentStatus, RefundStatus, WebhookOutcome};
use crate::module::{PaymentModule, WEBHOOK_PATH};
use crate::settings::PaymentConfig;

const API_KEY: &str = "sk_test_innkeeper_development_only";

/// A message as our webhook route received it.
#[derive(Debug, Clone)]
struct Received {
    headers: http::HeaderMap,
    body: Vec<u8>,
}

struct World {
    provider: PaymentProviderModule,
    provider_url: String,
    payment: PaymentModule,
    client: PaymentClient,
    webhook_url: String,
    /// Requests that reached the provider's API.
    provider_requests: Arc<AtomicUsize>,
    /// Webhook messages our route received.
    received: Arc<Mutex<Vec<Received>>>,
    http: reqwest::Client,
    shutdown: CancellationToken,
    _databases: (TestDatabase, TestDatabase),
}

impl Drop for World {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn world(run_payment_worker: bool) -> World {
    world_on(run_payment_worker, TestDatabase::sqlite().await).await
}

/// The world with the payment service's store on `payment_db`.
async fn world_on(run_payment_worker: bool, payment_db: TestDatabase) -> World {
    let provider_db = TestDatabase::sqlite().await;
    let provider_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let payment_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let provider_url = format!("http://{}", provider_listener.local_addr().expect("addr"));
    let webhook_url = format!(
        "http://{}{WEBHOOK_PATH}",
        payment_listener.local_addr().expect("addr")
    );

    let mut config = PaymentProviderConfig::defaults().expect("defaults");
    config.public_url = provider_url.clone();
    config.webhook_url = webhook_url.clone();
    config.webhook_poll_interval_ms = 10;
    config.webhook_backoff_base_ms = 50;
    config.webhook_backoff_max_ms = 500;
    config.processing_delay_ms = 100;
    let provider = PaymentProviderModule::start(
        &provider_db.db,
        Arc::new(SystemClock),
        config.settings().expect("valid"),
    )
    .await
    .expect("provider");

    let mut config = PaymentConfig::defaults().expect("defaults");
    config.provider_url = provider_url.clone();
    config.worker_poll_interval_ms = 20;
    config.task_backoff_base_ms = 50;
    config.task_backoff_max_ms = 500;
    config.provider_calls.attempt_timeout_ms = 2_000;
    config.provider_calls.deadline_ms = 4_000;
    config.provider_calls.backoff_base_ms = 10;
    config.provider_calls.backoff_max_ms = 40;
    config.provider_calls.breaker.consecutive_failures = 3;
    config.provider_calls.breaker.open_ms = 300;
    let payment = PaymentModule::start(
        &payment_db.db,
        Arc::new(SystemClock),
        config.settings().expect("valid"),
    )
    .await
    .expect("payment");

    let shutdown = CancellationToken::new();
    let provider_requests = Arc::new(AtomicUsize::new(0));
    let counter = provider_requests.clone();
    let provider_app =
        provider
            .router()
            .layer(middleware::from_fn(move |request: Request, next: Next| {
                if request.uri().path().starts_with("/v1/") {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                next.run(request)
            }));
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let payment_app =
        payment
            .webhook_router()
            .layer(middleware::from_fn(move |request: Request, next: Next| {
                let log = log.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let bytes = axum::body::to_bytes(body, usize::MAX)
                        .await
                        .unwrap_or_default();
                    log.lock().expect("lock").push(Received {
                        headers: parts.headers.clone(),
                        body: bytes.to_vec(),
                    });
                    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                        .await
                }
            }));
    tokio::spawn(async move { axum::serve(provider_listener, provider_app).await });
    tokio::spawn(async move { axum::serve(payment_listener, payment_app).await });
    tokio::spawn(provider.clone().run_webhook_worker(shutdown.clone()));
    if run_payment_worker {
        tokio::spawn(payment.clone().run_worker(shutdown.clone()));
    }
    World {
        client: payment.client(),
        provider,
        provider_url,
        payment,
        webhook_url,
        provider_requests,
        received,
        http: reqwest::Client::new(),
        shutdown,
        _databases: (provider_db, payment_db),
    }
}

fn booking_saga() -> Principal {
    Principal::service("booking")
}

fn eur(amount: i64) -> Money {
    Money {
        amount,
        currency: Currency::EUR,
    }
}

fn new_intent(booking_id: Uuid, amount: i64) -> NewIntent {
    NewIntent {
        booking_id,
        guest_id: UserId(Uuid::now_v7()),
        reference: "INK-7F3K9Q".into(),
        amount: eur(amount),
        return_url: "http://127.0.0.1:8080/bookings/done".into(),
        purpose: crate::api::IntentPurpose::Booking,
        modification: None,
    }
}

/// Polls `check` until it holds (10 s at most).
async fn eventually<F: AsyncFn() -> bool>(what: &str, check: F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl World {
    async fn pay(&self, provider_intent: &str, card: &str) -> reqwest::StatusCode {
        self.http
            .post(format!(
                "{}/v1/payment_intents/{provider_intent}/confirm",
                self.provider_url
            ))
            .bearer_auth(API_KEY)
            .json(&json!({"payment_method": card}))
            .send()
            .await
            .expect("confirm")
            .status()
    }

    async fn status(&self, booking_id: Uuid) -> PaymentStatus {
        self.client
            .get_for_booking(&booking_saga(), booking_id)
            .await
            .expect("payment")
            .status
    }

    /// The events of a booking in our outbox: `(type, data)`, oldest first.
    async fn events(&self, booking_id: Uuid) -> Vec<(String, Value)> {
        let sql = "SELECT type, data FROM event_outbox WHERE subject = $1 ORDER BY seq";
        let rows: Vec<(String, Vec<u8>)> = match self.payment.service.store().db() {
            innkeeper_platform::db::Database::Sqlite(db) => sqlx::query_as(sql)
                .bind(booking_id.to_string())
                .fetch_all(&db.reader)
                .await
                .expect("outbox"),
            innkeeper_platform::db::Database::Postgres(pool) => sqlx::query_as(sql)
                .bind(booking_id.to_string())
                .fetch_all(pool)
                .await
                .expect("outbox"),
        };
        rows.into_iter()
            .map(|(t, d)| (t, serde_json::from_slice(&d).expect("json")))
            .collect()
    }

    async fn count(&self, booking_id: Uuid, event_type: &str) -> usize {
        self.events(booking_id)
            .await
            .iter()
            .filter(|(t, _)| t == event_type)
            .count()
    }

    /// Waits until the provider delivered every webhook it queued.
    async fn deliveries_settled(&self) {
        let store = self.provider.service.store().clone();
        eventually("every webhook delivered", async || {
            store
                .deliveries(500)
                .await
                .expect("deliveries")
                .iter()
                .all(|d| d.status.as_str() == "delivered")
        })
        .await;
    }

    /// A booking with a paid payment: its id and the provider's intent id.
    async fn paid(&self, amount: i64) -> (Uuid, String) {
        let booking = Uuid::now_v7();
        let intent = self
            .client
            .create_intent(&booking_saga(), new_intent(booking, amount))
            .await
            .expect("intent");
        let pi = intent.provider_intent_id.expect("provider id");
        assert_eq!(self.pay(&pi, "pm_card_visa").await, 200);
        eventually("payment succeeded", async || {
            self.status(booking).await == PaymentStatus::Succeeded
        })
        .await;
        (booking, pi)
    }

    async fn send(&self, headers: &http::HeaderMap, body: &[u8]) -> (u16, Value) {
        let response = self
            .http
            .post(&self.webhook_url)
            .headers(headers.clone())
            .body(body.to_vec())
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Feeds a booking event to the payment's consumer, as a dispatcher would.
    async fn booking_event<P: Payload>(&self, booking_id: Uuid, payload: &P) {
        const BOOKING: Outbox = Outbox::new("/innkeeper/booking", "booking.events");
        let event = BOOKING.event(booking_id, payload).expect("event");
        let mut tx = Tx::begin(self.payment.service.store().db())
            .await
            .expect("begin");
        self.payment
            .booking_outcomes
            .handle(&mut tx, &event)
            .await
            .expect("handled");
        tx.commit().await.expect("commit");
    }
}

/// A signed message as the provider would send it.
fn signed(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().expect("value"));
    headers.insert("webhook-id", id.parse().expect("value"));
    headers.insert(
        "webhook-timestamp",
        timestamp.to_string().parse().expect("value"),
    );
    headers.insert(
        "webhook-signature",
        webhook_signature::sign(std::slice::from_ref(secret), id, timestamp, body)
            .parse()
            .expect("value"),
    );
    headers
}

fn provider_secret() -> WebhookSecret {
    let config = PaymentProviderConfig::defaults().expect("defaults");
    WebhookSecret::parse(&config.webhook_secrets[0]).expect("secret")
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The booking event payload as the booking service writes it (`BookingNotice`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Notice {
    booking_id: Uuid,
    data: Value,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Expired(Notice);
impl Payload for Expired {
    const TYPE: &'static str = "innkeeper.booking.expired.v1";
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Cancelled(Notice);
impl Payload for Cancelled {
    const TYPE: &'static str = "innkeeper.booking.cancelled.v1";
}

/// A booking event with its version (`modified` settles under it).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct VersionedNotice {
    booking_id: Uuid,
    version: i64,
    data: Value,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Created(Notice);
impl Payload for Created {
    const TYPE: &'static str = "innkeeper.booking.created.v1";
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Modified(VersionedNotice);
impl Payload for Modified {
    const TYPE: &'static str = "innkeeper.booking.modified.v1";
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CheckedIn(Notice);
impl Payload for CheckedIn {
    const TYPE: &'static str = "innkeeper.booking.checked_in.v1";
}

mod changes;
mod provider_down;
mod saga;
mod webhooks;
