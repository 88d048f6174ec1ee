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

#[tokio::test]
async fn a_paid_intent_publishes_payment_succeeded_exactly_once() {
    let world = world(true).await;
    let booking = Uuid::now_v7();
    let created = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 25_800))
        .await
        .expect("intent");
    assert_eq!(created.status, PaymentStatus::RequiresPayment);
    let pi = created.provider_intent_id.clone().expect("provider id");
    let checkout = created.checkout_url.clone().expect("checkout link");
    assert_eq!(checkout, format!("{}/checkout/{pi}", world.provider_url));
    let again = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 25_800))
        .await
        .expect("idempotent per booking");
    assert_eq!(again.id, created.id);
    assert_eq!(again.provider_intent_id, created.provider_intent_id);
    let other_amount = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 100))
        .await
        .expect_err("another amount");
    assert_eq!(other_amount.code, ErrorCode::Conflict);

    assert_eq!(world.pay(&pi, "pm_card_visa").await, 200);
    eventually("succeeded", async || {
        world.status(booking).await == PaymentStatus::Succeeded
    })
    .await;
    world.deliveries_settled().await;
    let events = world.events(booking).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (event_type, data) = &events[0];
    assert_eq!(event_type, "innkeeper.payment.succeeded.v1");
    // The form the booking service reads.
    assert_eq!(data["payment_id"], json!(created.id.0));
    assert_eq!(data["booking_id"], json!(booking));
    assert_eq!(data["amount"], json!({"amount": 25_800, "currency": "EUR"}));

    // The provider delivers again (as after a lost answer), re-signed with a fresh timestamp.
    let delivered = world
        .received
        .lock()
        .expect("lock")
        .iter()
        .find(|r| {
            serde_json::from_slice::<Value>(&r.body).is_ok_and(|v| {
                v["type"] == "payment_intent.succeeded" && v["data"]["object"]["id"] == json!(pi)
            })
        })
        .cloned()
        .expect("the success was delivered");
    let id = delivered.headers["webhook-id"]
        .to_str()
        .expect("id")
        .to_owned();
    for headers in [
        delivered.headers.clone(),
        signed(&provider_secret(), &id, now(), &delivered.body),
    ] {
        let (status, _) = world.send(&headers, &delivered.body).await;
        assert_eq!(status, 204);
    }
    assert_eq!(
        world.count(booking, "innkeeper.payment.succeeded.v1").await,
        1,
        "one effect"
    );

    // A guest sees their own payment; anyone else is told it does not exist.
    let guest = Principal {
        user_id: created.guest_id,
        role: innkeeper_kernel::Role::Guest,
    };
    assert_eq!(
        world.client.get(&guest, created.id).await.expect("own").id,
        created.id
    );
    let stranger = Principal {
        user_id: UserId(Uuid::now_v7()),
        role: innkeeper_kernel::Role::Guest,
    };
    let hidden = world
        .client
        .get(&stranger, created.id)
        .await
        .expect_err("hidden");
    assert_eq!(hidden.code, ErrorCode::NotFound);
    let forbidden = world
        .client
        .create_intent(&guest, new_intent(Uuid::now_v7(), 100))
        .await
        .expect_err("guests do not create payments");
    assert_eq!(forbidden.code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_declined_payment_publishes_payment_failed_and_is_cancelled_at_the_provider() {
    let world = world(true).await;
    let booking = Uuid::now_v7();
    let created = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 9_900))
        .await
        .expect("intent");
    let pi = created.provider_intent_id.expect("provider id");
    assert_eq!(world.pay(&pi, "pm_card_chargeDeclined").await, 402);
    eventually("failed", async || {
        world.status(booking).await == PaymentStatus::Failed
    })
    .await;
    let events = world.events(booking).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "innkeeper.payment.failed.v1");
    assert_eq!(events[0].1["code"], "card_declined");
    assert_eq!(events[0].1["booking_id"], json!(booking));
    // No later attempt can take money for the cancelled booking.
    let provider = world.provider.service.clone();
    eventually("cancelled at the provider", async || {
        provider
            .get_intent(&pi)
            .await
            .expect("intent")
            .status
            .as_str()
            == "canceled"
    })
    .await;
    assert_eq!(world.pay(&pi, "pm_card_visa").await, 400);
    world.deliveries_settled().await;
    assert_eq!(world.status(booking).await, PaymentStatus::Failed);
    assert_eq!(world.events(booking).await.len(), 1);
}

#[tokio::test]
async fn a_refund_publishes_payment_refunded_once_per_key() {
    let world = world(true).await;
    let (booking, pi) = world.paid(20_000).await;
    let refund = world
        .client
        .refund(
            &booking_saga(),
            booking,
            eur(5_000),
            "cancellation",
            "cancel-1",
        )
        .await
        .expect("refund");
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert!(refund.provider_refund_id.is_some());
    let again = world
        .client
        .refund(
            &booking_saga(),
            booking,
            eur(5_000),
            "cancellation",
            "cancel-1",
        )
        .await
        .expect("same key");
    assert_eq!(again.id, refund.id);
    let reused = world
        .client
        .refund(
            &booking_saga(),
            booking,
            eur(6_000),
            "cancellation",
            "cancel-1",
        )
        .await
        .expect_err("same key, another amount");
    assert_eq!(reused.code, ErrorCode::Conflict);
    let too_much = world
        .client
        .refund(&booking_saga(), booking, eur(15_001), "goodwill", "k2")
        .await
        .expect_err("more than is left");
    assert_eq!(too_much.code, ErrorCode::ValidationFailed);
    assert_eq!(too_much.errors[0].field, "amount");

    world.deliveries_settled().await;
    let refunded: Vec<_> = world
        .events(booking)
        .await
        .into_iter()
        .filter(|(t, _)| t == "innkeeper.payment.refunded.v1")
        .collect();
    assert_eq!(refunded.len(), 1, "the refund.created webhook adds nothing");
    assert_eq!(refunded[0].1["amount"]["amount"], 5_000);
    assert_eq!(refunded[0].1["total_refunded"]["amount"], 5_000);
    let ledger = world
        .provider
        .service
        .store()
        .refunds(&pi)
        .await
        .expect("refunds");
    assert_eq!(ledger.len(), 1, "the provider refunded once");
    let payment = world
        .client
        .get_for_booking(&booking_saga(), booking)
        .await
        .expect("payment");
    assert_eq!(payment.amount_refunded, 5_000);
    assert_eq!(payment.refunds.len(), 1);
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

#[tokio::test]
async fn the_end_of_a_booking_cancels_or_refunds_its_payment() {
    let world = world(true).await;
    let provider = world.provider.service.clone();

    // Expired unpaid: cancelled here and at the provider.
    let unpaid = Uuid::now_v7();
    let intent = world
        .client
        .create_intent(&booking_saga(), new_intent(unpaid, 10_000))
        .await
        .expect("intent");
    let pi = intent.provider_intent_id.expect("id");
    let expired = Expired(Notice {
        booking_id: unpaid,
        data: json!({}),
    });
    world.booking_event(unpaid, &expired).await;
    assert_eq!(world.status(unpaid).await, PaymentStatus::Canceled);
    eventually("cancelled at the provider", async || {
        provider
            .get_intent(&pi)
            .await
            .expect("intent")
            .status
            .as_str()
            == "canceled"
    })
    .await;

    // Cancelled after payment: the policy's refund.
    let (late_cancel, _) = world.paid(30_000).await;
    let cancelled = Cancelled(Notice {
        booking_id: late_cancel,
        data: json!({"reason": "plans changed",
                     "refund": {"amount": {"amount": 15_000, "currency": "EUR"}, "rule": "late_cancellation"}}),
    });
    world.booking_event(late_cancel, &cancelled).await;
    eventually("refunded by policy", async || {
        world
            .count(late_cancel, "innkeeper.payment.refunded.v1")
            .await
            == 1
    })
    .await;
    let refunded = world.events(late_cancel).await;
    assert_eq!(refunded[1].1["amount"]["amount"], 15_000);
    assert_eq!(refunded[1].1["reason"], "cancellation");
    // The same event again (a redelivery the inbox missed) owes nothing more.
    world.booking_event(late_cancel, &cancelled).await;

    // Paid while the booking expired: all of it back.
    let (paid_expired, _) = world.paid(12_000).await;
    world
        .booking_event(
            paid_expired,
            &Expired(Notice {
                booking_id: paid_expired,
                data: json!({}),
            }),
        )
        .await;
    eventually("refunded in full", async || {
        world
            .count(paid_expired, "innkeeper.payment.refunded.v1")
            .await
            == 1
    })
    .await;
    assert_eq!(
        world.events(paid_expired).await[1].1["amount"]["amount"],
        12_000
    );
    world.deliveries_settled().await;
    assert_eq!(
        world
            .count(late_cancel, "innkeeper.payment.refunded.v1")
            .await,
        1
    );
}

#[tokio::test]
async fn money_that_comes_after_the_booking_expired_is_refunded_automatically() {
    // No worker: the provider is not told to cancel before the guest pays.
    let world = world(false).await;
    let booking = Uuid::now_v7();
    let intent = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 8_000))
        .await
        .expect("intent");
    let pi = intent.provider_intent_id.expect("id");
    world
        .booking_event(
            booking,
            &Expired(Notice {
                booking_id: booking,
                data: json!({}),
            }),
        )
        .await;
    assert_eq!(world.status(booking).await, PaymentStatus::Canceled);
    assert_eq!(world.pay(&pi, "pm_card_visa").await, 200);
    eventually("late success recorded", async || {
        world.status(booking).await == PaymentStatus::Succeeded
    })
    .await;
    let succeeded = world.events(booking).await;
    assert_eq!(succeeded[0].1["late"], true);
    worker::round(&world.payment.service).await.expect("round");
    assert_eq!(
        world.count(booking, "innkeeper.payment.refunded.v1").await,
        1
    );
    let refunds = world
        .provider
        .service
        .store()
        .refunds(&pi)
        .await
        .expect("refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, 8_000);
    // The cancellation the worker owed finds the intent paid: nothing more to do.
    worker::round(&world.payment.service).await.expect("round");
    assert!(
        world
            .payment
            .service
            .store()
            .due_cancels(time::OffsetDateTime::now_utc(), 10)
            .await
            .expect("due")
            .is_empty()
    );
}

#[tokio::test]
async fn webhooks_are_verified_and_have_one_effect_each() {
    let world = world(true).await;
    let booking = Uuid::now_v7();
    let intent = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 5_000))
        .await
        .expect("intent");
    let pi = intent.provider_intent_id.clone().expect("id");
    let secret = provider_secret();
    let object = json!({"id": pi, "object": "payment_intent", "status": "succeeded",
        "amount": 5_000, "amount_received": 5_000, "amount_refunded": 0, "currency": "eur",
        "metadata": {"payment_id": intent.id.to_string()}});
    let body = json!({"id": "evt_matrix_1", "object": "event", "type": "payment_intent.succeeded",
        "data": {"object": object}})
    .to_string()
    .into_bytes();
    let wrong = WebhookSecret::generate();
    let tampered = String::from_utf8(body.clone())
        .expect("utf-8")
        .replace("5000", "1")
        .into_bytes();
    let mut missing = signed(&secret, "evt_matrix_1", now(), &body);
    missing.remove("webhook-signature");
    let forged = [
        (
            "tampered body",
            signed(&secret, "evt_matrix_1", now(), &body),
            tampered,
        ),
        (
            "wrong secret",
            signed(&wrong, "evt_matrix_1", now(), &body),
            body.clone(),
        ),
        (
            "stale timestamp",
            signed(&secret, "evt_matrix_1", now() - 301, &body),
            body.clone(),
        ),
        (
            "future timestamp",
            signed(&secret, "evt_matrix_1", now() + 301, &body),
            body.clone(),
        ),
        ("no signature", missing, body.clone()),
    ];
    for (case, headers, body) in &forged {
        let (status, problem) = world.send(headers, body).await;
        assert_eq!(status, 401, "{case}");
        assert_eq!(problem["code"], "unauthenticated", "{case}");
        assert_eq!(problem["status"], 401, "{case}");
    }
    assert_eq!(
        world.status(booking).await,
        PaymentStatus::RequiresPayment,
        "0 false accepts"
    );
    assert!(world.events(booking).await.is_empty());

    // Valid, then replayed as captured, then redelivered with a fresh signature.
    let valid = signed(&secret, "evt_matrix_1", now(), &body);
    let service = &world.payment.service;
    assert_eq!(
        service.handle_webhook(&valid, &body).await.expect("valid"),
        WebhookOutcome::Applied
    );
    assert_eq!(
        service.handle_webhook(&valid, &body).await.expect("replay"),
        WebhookOutcome::Duplicate
    );
    let (status, _) = world
        .send(&signed(&secret, "evt_matrix_1", now(), &body), &body)
        .await;
    assert_eq!(status, 204);
    assert_eq!(world.status(booking).await, PaymentStatus::Succeeded);
    assert_eq!(
        world.count(booking, "innkeeper.payment.succeeded.v1").await,
        1
    );

    // Out of order: a `processing` that arrives after the success changes nothing.
    let late = json!({"id": "evt_matrix_2", "type": "payment_intent.processing",
        "data": {"object": {"id": pi, "status": "processing", "amount": 5_000}}})
    .to_string()
    .into_bytes();
    assert_eq!(
        service
            .handle_webhook(&signed(&secret, "evt_matrix_2", now(), &late), &late)
            .await
            .expect("applied"),
        WebhookOutcome::Applied
    );
    assert_eq!(world.status(booking).await, PaymentStatus::Succeeded);

    // Out of order: a refund made at the provider, reported before the payment it refunds.
    let other = Uuid::now_v7();
    let second = world
        .client
        .create_intent(&booking_saga(), new_intent(other, 7_000))
        .await
        .expect("intent");
    let pi2 = second.provider_intent_id.expect("id");
    let refund = json!({"id": "evt_matrix_3", "type": "refund.created",
        "data": {"object": {"id": "re_external", "object": "refund", "amount": 2_000,
                            "payment_intent": pi2, "status": "succeeded"}}})
    .to_string()
    .into_bytes();
    let paid = json!({"id": "evt_matrix_4", "type": "payment_intent.succeeded",
        "data": {"object": {"id": pi2, "status": "succeeded", "amount": 7_000, "amount_received": 7_000}}})
    .to_string()
    .into_bytes();
    for (id, body) in [
        ("evt_matrix_3", &refund),
        ("evt_matrix_4", &paid),
        ("evt_matrix_3", &refund),
    ] {
        service
            .handle_webhook(&signed(&secret, id, now(), body), body)
            .await
            .expect("accepted");
    }
    let events: Vec<String> = world
        .events(other)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        events,
        [
            "innkeeper.payment.succeeded.v1",
            "innkeeper.payment.refunded.v1"
        ],
        "one effect each, in causal order"
    );
    let payment = world
        .client
        .get_for_booking(&booking_saga(), other)
        .await
        .expect("payment");
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(payment.amount_refunded, 2_000);

    // An intent that is not ours is acknowledged and ignored.
    let foreign = json!({"id": "evt_matrix_5", "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_someone_else", "status": "succeeded", "amount": 1}}})
    .to_string()
    .into_bytes();
    assert_eq!(
        service
            .handle_webhook(&signed(&secret, "evt_matrix_5", now(), &foreign), &foreign)
            .await
            .expect("ignored"),
        WebhookOutcome::Ignored
    );
}

#[tokio::test]
async fn a_provider_that_is_down_fails_calls_fast_until_it_comes_back() {
    let world = world(true).await;
    let admin = |down: bool| {
        let http = world.http.clone();
        let url = format!("{}/_admin/faults", world.provider_url);
        async move {
            let status = http
                .post(url)
                .bearer_auth(API_KEY)
                .json(&json!({"down": down}))
                .send()
                .await
                .expect("admin")
                .status();
            assert_eq!(status, 200);
        }
    };
    admin(true).await;
    let booking = Uuid::now_v7();
    // Three attempts fail (retried within the budget); the breaker opens.
    let err = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 4_000))
        .await
        .expect_err("down");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert_eq!(err.code.http_status(), 503);
    let downstream = world.payment.service.provider().downstream().clone();
    assert_eq!(downstream.state(), BreakerState::Open);
    let reached = world.provider_requests.load(Ordering::SeqCst);
    assert_eq!(reached, 3, "the first call's attempts");
    for _ in 0..20 {
        let started = Instant::now();
        let err = world
            .client
            .create_intent(&booking_saga(), new_intent(Uuid::now_v7(), 4_000))
            .await
            .expect_err("fails fast");
        assert_eq!(err.code, ErrorCode::Unavailable);
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        world.provider_requests.load(Ordering::SeqCst),
        reached,
        "nothing reached the provider while open"
    );
    assert_eq!(
        world.status(booking).await,
        PaymentStatus::Creating,
        "recorded, owed nothing, resumable"
    );

    admin(false).await;
    eventually("half-open", async || {
        downstream.state() == BreakerState::HalfOpen
    })
    .await;
    let resumed = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 4_000))
        .await
        .expect("the probe goes through");
    assert_eq!(downstream.state(), BreakerState::Closed);
    assert_eq!(resumed.status, PaymentStatus::RequiresPayment);
    assert!(resumed.checkout_url.is_some());
    assert_eq!(
        world.provider_requests.load(Ordering::SeqCst),
        reached + 1,
        "one probe"
    );
}

#[tokio::test]
async fn the_saga_runs_the_same_on_postgresql() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let world = world_on(true, database).await;
    let (booking, pi) = world.paid(11_000).await;
    let cancelled = Cancelled(Notice {
        booking_id: booking,
        data: json!({"refund": {"amount": {"amount": 11_000, "currency": "EUR"}, "rule": "free_cancellation"}}),
    });
    world.booking_event(booking, &cancelled).await;
    eventually("refunded", async || {
        world.count(booking, "innkeeper.payment.refunded.v1").await == 1
    })
    .await;
    world.deliveries_settled().await;
    let types: Vec<String> = world
        .events(booking)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        types,
        [
            "innkeeper.payment.succeeded.v1",
            "innkeeper.payment.refunded.v1"
        ]
    );
    let refunds = world
        .provider
        .service
        .store()
        .refunds(&pi)
        .await
        .expect("refunds");
    assert_eq!(refunds.len(), 1);
    // Every delivery again: no second effect.
    let received = world.received.lock().expect("lock").clone();
    for message in &received {
        let (status, _) = world.send(&message.headers, &message.body).await;
        assert_eq!(status, 204);
    }
    assert_eq!(world.events(booking).await.len(), 2);
}

#[test]
fn rejected_webhooks_and_the_breaker_are_visible_in_metrics() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // A thread-local recorder and a runtime on this thread: every task of the test reports
    // here, and no other test does.
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let database = TestDatabase::sqlite().await;
            let closed = std::net::TcpListener::bind("127.0.0.1:0")
                .expect("bind")
                .local_addr()
                .expect("addr");
            let mut config = PaymentConfig::defaults().expect("defaults");
            config.provider_url = format!("http://{closed}");
            config.provider_calls.backoff_base_ms = 1;
            config.provider_calls.backoff_max_ms = 2;
            config.provider_calls.breaker.consecutive_failures = 3;
            let payment = PaymentModule::start(
                &database.db,
                Arc::new(SystemClock),
                config.settings().expect("valid"),
            )
            .await
            .expect("start");
            let service = payment.service.clone();
            let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{}}}"#;
            let wrong = WebhookSecret::generate();
            let secret = provider_secret();
            for headers in [
                signed(&wrong, "evt_1", now(), body),
                signed(&secret, "evt_1", now() - 3_600, body),
            ] {
                let err = service
                    .handle_webhook(&headers, body)
                    .await
                    .expect_err("401");
                assert_eq!(err.code, ErrorCode::Unauthenticated);
            }
            for _ in 0..2 {
                let err = service
                    .create_intent(&booking_saga(), new_intent(Uuid::now_v7(), 100))
                    .await
                    .expect_err("unreachable");
                assert_eq!(err.code, ErrorCode::Unavailable);
            }
        });
    });
    /// A metric's name, labels and value.
    type Metric = (String, Vec<(String, String)>, DebugValue);
    let metrics: Vec<Metric> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect();
    let value = |name: &str, label: (&str, &str)| {
        metrics
            .iter()
            .find(|(n, labels, _)| {
                n == name && labels.iter().any(|(k, v)| k == label.0 && v == label.1)
            })
            .map(|(_, _, v)| v)
    };
    assert_eq!(
        value(
            "innkeeper_payment_webhook_rejected_total",
            ("reason", "bad_signature")
        ),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(
            "innkeeper_payment_webhook_rejected_total",
            ("reason", "stale_timestamp")
        ),
        Some(&DebugValue::Counter(1))
    );
    let provider = ("downstream", "payment_provider");
    assert_eq!(
        value("innkeeper_downstream_retries_total", provider),
        Some(&DebugValue::Counter(2)),
        "the first call's two retries"
    );
    assert_eq!(
        value("innkeeper_downstream_rejected_total", provider),
        Some(&DebugValue::Counter(1)),
        "the second call failed fast"
    );
    assert!(matches!(
        value("innkeeper_downstream_breaker_state", provider),
        Some(DebugValue::Gauge(g)) if g.into_inner() == 1.0
    ));
}
