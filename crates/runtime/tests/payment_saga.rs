//! The payment saga end to end in the embedded shape, through REST and the provider
//! imitation's own API (mounted under `/provider` on the same node):
//!
//! - book: `201` with `payment.checkout_url`; pay with `pm_card_visa` at the provider; its
//!   signed webhook reaches the payment service, whose `payment.succeeded` confirms the
//!   booking and sells the hold; `GET /payments/{id}` shows it to its guest only;
//! - a declined card (`pm_card_chargeDeclined`): the booking is `cancelled` (reason
//!   `payment_failed`) and the rooms come back;
//! - cancelling a paid booking refunds it, and the refund is recorded on the booking;
//! - the provider down at booking: `503` with `Retry-After`, and no hold left behind;
//! - changes settle their price difference (`the_changes_journey`): a paid booking made
//!   cheaper is refunded the difference (the provider's ledger shows the partial refund), made
//!   dearer owes a balance at its own checkout link that pays it up; an unpaid booking's new
//!   price replaces its payment, whose old link no longer takes money; no intent is ever
//!   captured twice.
//!
//! `saga_latency_in_the_embedded_shape` prints how long the saga takes (no timing is
//! asserted): `cargo test -p innkeeper-runtime --test payment_saga -- --nocapture`.

#[allow(dead_code)] // The support is shared with the race tests.
mod support;

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Backend, Reply, SERIAL, TestNode, first_night};

/// The provider's API key in the compiled-in defaults.
const PROVIDER_KEY: &str = "sk_test_innkeeper_development_only";

/// A node with quick event delivery, so the saga's steps follow each other without idle
/// polls.
async fn start(backend: Backend) -> Option<TestNode> {
    let overrides = [
        ("events.poll_interval_ms", json!(10)),
        ("payment.worker_poll_interval_ms", json!(20)),
        ("payment_provider.webhook_poll_interval_ms", json!(20)),
        ("payment_provider.webhook_backoff_base_ms", json!(50)),
    ];
    TestNode::start(backend, &overrides).await
}

/// A stay of two nights from the first bookable night, for one guest.
fn stay(hotel: &str, room_type: &str) -> Value {
    let check_in = first_night() + time::Duration::days(14);
    json!({
        "hotel_id": hotel,
        "room_type_id": room_type,
        "check_in": check_in.to_string(),
        "check_out": (check_in + time::Duration::days(2)).to_string(),
        "guests": 1,
        "guest_name": "Ana Lima",
    })
}

/// The provider's id of a booking's payment: the last segment of its checkout link.
fn provider_intent(booking: &Value) -> String {
    let url = booking["payment"]["checkout_url"]
        .as_str()
        .unwrap_or_else(|| panic!("a checkout link: {booking}"));
    let id = url.rsplit('/').next().expect("a segment").to_owned();
    assert!(id.starts_with("pi_"), "{url}");
    id
}

impl TestNode {
    /// Pays (or tries to) at the provider with a test payment method, as the checkout would.
    async fn pay(&self, booking: &Value, method: &str) -> Reply {
        let intent = provider_intent(booking);
        self.send(
            Method::POST,
            &format!("/provider/v1/payment_intents/{intent}/confirm"),
            Some(PROVIDER_KEY),
            &[],
            Some(&json!({"payment_method": method})),
        )
        .await
    }

    /// The booking as its guest reads it, once `done` holds of it (within 20 s).
    async fn booking_when(&self, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let reply = self.get(&format!("/api/v1/bookings/{id}"), token).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            if done(&reply.body) {
                return reply.body;
            }
            assert!(
                Instant::now() < deadline,
                "booking {id} did not get there: {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// `(held, sold)` of each night of the stay.
    async fn counters(&self, hotel: &str, room_type: &str) -> Vec<(u32, u32)> {
        let check_in = first_night() + time::Duration::days(14);
        self.inventory(hotel, check_in, check_in + time::Duration::days(2))
            .await
            .into_iter()
            .filter(|n| n.0 == room_type)
            .map(|(_, _, _, held, sold)| (held, sold))
            .collect()
    }
}

async fn the_whole_journey(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(node) = start(backend).await else {
        return;
    };
    let hotel = node.hotel("Hotel Pagamento").await;
    let room_type = node.room_type(&hotel, "Double", 12_900, 3).await;
    let guests = node.guests(2).await;
    let (ana, bea) = (&guests[0], &guests[1]);
    let ready = node
        .send(Method::GET, "/health/ready", None, &[], None)
        .await;
    assert_eq!(
        ready.body["checks"]["payment_database"],
        "up",
        "{}",
        ready.text()
    );

    // Book: the answer carries where to pay.
    let reply = node
        .post("/api/v1/bookings", ana, &stay(&hotel, &room_type))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let booking = reply.body;
    assert_eq!(booking["status"], "pending_payment");
    assert_eq!(booking["payment"]["status"], "awaiting_payment");
    let checkout = booking["payment"]["checkout_url"]
        .as_str()
        .expect("checkout_url");
    assert!(
        checkout.starts_with(&format!(
            "{}/checkout/pi_",
            node.config.payment_provider.public_url
        )),
        "{checkout}"
    );
    let id = booking["id"].as_str().expect("id").to_owned();
    let payment_id = booking["payment"]["payment_id"]
        .as_str()
        .expect("payment_id")
        .to_owned();
    assert_eq!(
        node.counters(&hotel, &room_type).await,
        vec![(1, 0), (1, 0)]
    );

    // The payment, to its guest only.
    let reply = node
        .get(&format!("/api/v1/payments/{payment_id}"), ana)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.body["status"], "requires_payment");
    assert_eq!(reply.body["amount"], booking["price"]["total"]);
    assert_eq!(reply.body["booking_id"], id.as_str());
    assert_eq!(reply.body["purpose"], "booking");
    assert!(reply.body.get("modification").is_none(), "{}", reply.text());
    for token in [bea.as_str(), node.owner.as_str()] {
        let reply = node
            .get(&format!("/api/v1/payments/{payment_id}"), token)
            .await;
        assert!(reply.is_problem(404, "not_found"), "{}", reply.text());
    }

    // Pay at the provider: its webhook reaches payment, payment.succeeded confirms.
    let paid = node.pay(&booking, "pm_card_visa").await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
    let confirmed = node
        .booking_when(ana, &id, |b| b["status"] == "confirmed")
        .await;
    assert_eq!(confirmed["payment"]["status"], "paid");
    assert_eq!(confirmed["paid"], booking["price"]["total"]);
    assert_eq!(confirmed["payment"]["checkout_url"], checkout);
    assert_eq!(
        node.counters(&hotel, &room_type).await,
        vec![(0, 1), (0, 1)]
    );
    let reply = node
        .get(&format!("/api/v1/payments/{payment_id}"), ana)
        .await;
    assert_eq!(reply.body["status"], "succeeded", "{}", reply.text());

    // A declined card: the booking is cancelled and the rooms come back.
    let reply = node
        .post("/api/v1/bookings", bea, &stay(&hotel, &room_type))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let declined_booking = reply.body;
    let declined_id = declined_booking["id"].as_str().expect("id").to_owned();
    assert_eq!(
        node.counters(&hotel, &room_type).await,
        vec![(1, 1), (1, 1)]
    );
    let declined = node.pay(&declined_booking, "pm_card_chargeDeclined").await;
    assert!(declined.status.is_client_error(), "{}", declined.text());
    let cancelled = node
        .booking_when(bea, &declined_id, |b| b["status"] == "cancelled")
        .await;
    assert_eq!(cancelled["payment"]["status"], "failed");
    let history = node
        .get(&format!("/api/v1/bookings/{declined_id}/history"), bea)
        .await;
    let last = &history.body.as_array().expect("history")[1];
    assert_eq!(last["type"], "cancelled");
    assert_eq!(last["data"]["reason"], "payment_failed", "{last}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.counters(&hotel, &room_type).await != vec![(0, 1), (0, 1)] {
        assert!(
            Instant::now() < deadline,
            "the declined booking's rooms came back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Cancelling the paid booking refunds it; the refund is recorded on the booking.
    let reply = node
        .post(&format!("/api/v1/bookings/{id}/cancel"), ana, &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let refund = reply.body["refund"]["amount"].clone();
    assert_eq!(refund, booking["price"]["total"], "free cancellation");
    let refunded = node
        .booking_when(ana, &id, |b| b["payment"]["status"] == "refunded")
        .await;
    assert_eq!(refunded["status"], "cancelled", "status unchanged");
    assert_eq!(refunded["payment"]["refunded"], refund);
    let history = node
        .get(&format!("/api/v1/bookings/{id}/history"), ana)
        .await;
    let last = history.body.as_array().expect("history").last().cloned();
    assert_eq!(
        last.as_ref().map(|e| e["type"].clone()),
        Some(json!("refunded"))
    );
    let reply = node
        .get(&format!("/api/v1/payments/{payment_id}"), ana)
        .await;
    assert_eq!(reply.body["amount_refunded"], refund, "{}", reply.text());
    assert_eq!(
        node.counters(&hotel, &room_type).await,
        vec![(0, 0), (0, 0)]
    );

    // The provider down at booking: 503 fast, with Retry-After, and no hold left.
    let down = node
        .send(
            Method::POST,
            "/provider/_admin/faults",
            Some(PROVIDER_KEY),
            &[],
            Some(&json!({"down": true})),
        )
        .await;
    assert_eq!(down.status, StatusCode::OK, "{}", down.text());
    let started = Instant::now();
    let reply = node
        .post("/api/v1/bookings", ana, &stay(&hotel, &room_type))
        .await;
    assert!(reply.is_problem(503, "unavailable"), "{}", reply.text());
    assert!(!reply.header("retry-after").is_empty(), "Retry-After");
    eprintln!(
        "[{backend:?}] provider down: 503 in {:.1?}",
        started.elapsed()
    );
    assert_eq!(
        node.counters(&hotel, &room_type).await,
        vec![(0, 0), (0, 0)]
    );
    let mine = node.get("/api/v1/bookings", ana).await;
    assert_eq!(
        mine.body["items"].as_array().map(Vec::len),
        Some(1),
        "nothing recorded: {}",
        mine.text()
    );
    node.stop().await;
}

impl TestNode {
    /// `PATCH /bookings/{id}` with the booking's current version as `If-Match`.
    async fn change(&self, token: &str, booking: &Value, patch: &Value) -> Value {
        let id = booking["id"].as_str().expect("id");
        let version = booking["version"].to_string();
        let reply = self
            .send(
                Method::PATCH,
                &format!("/api/v1/bookings/{id}"),
                Some(token),
                &[("if-match", &format!("\"{version}\""))],
                Some(patch),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.body
    }

    /// The provider's ledger (of one intent, or all): captured, refunded, double captures.
    async fn ledger(&self, intent: Option<&str>) -> (i64, i64, i64) {
        let path = match intent {
            Some(pi) => format!("/provider/_admin/ledger?payment_intent={pi}"),
            None => "/provider/_admin/ledger".to_owned(),
        };
        let reply = self
            .send(Method::GET, &path, Some(PROVIDER_KEY), &[], None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let number = |key: &str| reply.body[key].as_i64().expect("a number");
        (
            number("captured"),
            number("refunded"),
            number("double_captures"),
        )
    }

    /// An intent's status at the provider.
    async fn provider_status(&self, intent: &str) -> String {
        let reply = self
            .send(
                Method::GET,
                &format!("/provider/v1/payment_intents/{intent}"),
                Some(PROVIDER_KEY),
                &[],
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.body["status"].as_str().expect("status").to_owned()
    }
}

/// The amount of a `{amount, currency}` value.
fn minor(money: &Value) -> i64 {
    money["amount"]
        .as_i64()
        .unwrap_or_else(|| panic!("money: {money}"))
}

async fn the_changes_journey(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(node) = start(backend).await else {
        return;
    };
    let hotel = node.hotel("Hotel Mudança").await;
    let room_type = node.room_type(&hotel, "Double", 12_900, 3).await;
    let guests = node.guests(2).await;
    let (ana, bea) = (&guests[0], &guests[1]);
    let check_in = first_night() + time::Duration::days(14);
    let nights = |n: i64| json!({"check_out": (check_in + time::Duration::days(n)).to_string()});

    // Paid for two nights.
    let reply = node
        .post("/api/v1/bookings", ana, &stay(&hotel, &room_type))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let booking = reply.body;
    let id = booking["id"].as_str().expect("id").to_owned();
    let first_pi = provider_intent(&booking);
    let paid = node.pay(&booking, "pm_card_visa").await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
    let confirmed = node
        .booking_when(ana, &id, |b| b["status"] == "confirmed")
        .await;
    assert_eq!(minor(&confirmed["paid"]), 25_800);

    // Cheaper (one night): the difference is refunded at the provider and recorded.
    let cheaper = node.change(ana, &confirmed, &nights(1)).await;
    assert_eq!(cheaper["status"], "confirmed");
    assert_eq!(minor(&cheaper["paid"]), 12_900, "paid goes down at once");
    assert_eq!(cheaper["payment"]["status"], "paid");
    let refunded = node
        .booking_when(ana, &id, |b| !b["payment"]["refunded"].is_null())
        .await;
    assert_eq!(minor(&refunded["payment"]["refunded"]), 12_900);
    assert_eq!(refunded["payment"]["status"], "paid");
    assert_eq!(refunded["status"], "confirmed");
    let history = node
        .get(&format!("/api/v1/bookings/{id}/history"), ana)
        .await;
    let last = history.body.as_array().expect("history").last().cloned();
    let last = last.expect("an entry");
    assert_eq!(last["type"], "refunded", "{last}");
    assert_eq!(last["data"]["reason"], "modification");
    assert_eq!(node.ledger(Some(&first_pi)).await, (25_800, 12_900, 0));

    // Dearer (three nights): a balance at its own link; paying it pays the booking up.
    let dearer = node.change(ana, &refunded, &nights(3)).await;
    assert_eq!(dearer["status"], "confirmed");
    assert_eq!(dearer["payment"]["status"], "balance_due", "{dearer}");
    assert_eq!(minor(&dearer["payment"]["due"]), 3 * 12_900 - 12_900);
    let balance_pi = provider_intent(&dearer);
    assert_ne!(balance_pi, first_pi, "the balance has its own checkout");
    let balance = node
        .get(
            &format!(
                "/api/v1/payments/{}",
                dearer["payment"]["payment_id"]
                    .as_str()
                    .expect("payment_id")
            ),
            ana,
        )
        .await;
    assert_eq!(balance.status, StatusCode::OK, "{}", balance.text());
    assert_eq!(
        minor(&balance.body["amount"]),
        25_800,
        "the balance, not the price"
    );
    assert_eq!(balance.body["purpose"], "balance");
    assert_eq!(
        balance.body["modification"],
        dearer["version"],
        "{}",
        balance.text()
    );
    let declined = node.pay(&dearer, "pm_card_chargeDeclined").await;
    assert!(declined.status.is_client_error(), "{}", declined.text());
    let paid = node.pay(&dearer, "pm_card_visa").await;
    assert_eq!(
        paid.status,
        StatusCode::OK,
        "a declined balance stays payable: {}",
        paid.text()
    );
    let paid_up = node
        .booking_when(ana, &id, |b| b["payment"]["status"] == "paid")
        .await;
    assert_eq!(paid_up["status"], "confirmed");
    assert_eq!(minor(&paid_up["paid"]), 3 * 12_900);
    assert!(paid_up["payment"]["due"].is_null());
    assert_eq!(node.ledger(Some(&balance_pi)).await, (25_800, 0, 0));

    // An unpaid booking's new price: a new link; the old one no longer takes money.
    let reply = node
        .post("/api/v1/bookings", bea, &stay(&hotel, &room_type))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let unpaid = reply.body;
    let unpaid_id = unpaid["id"].as_str().expect("id").to_owned();
    let old_pi = provider_intent(&unpaid);
    let repriced = node.change(bea, &unpaid, &nights(3)).await;
    assert_eq!(repriced["status"], "pending_payment");
    assert_eq!(repriced["payment"]["status"], "awaiting_payment");
    let new_pi = provider_intent(&repriced);
    assert_ne!(new_pi, old_pi, "a new checkout link");
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.provider_status(&old_pi).await != "canceled" {
        assert!(
            Instant::now() < deadline,
            "the old intent was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stale = node.pay(&unpaid, "pm_card_visa").await;
    assert!(
        stale.status.is_client_error(),
        "the old link is dead: {}",
        stale.text()
    );
    let paid = node.pay(&repriced, "pm_card_visa").await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
    let confirmed = node
        .booking_when(bea, &unpaid_id, |b| b["status"] == "confirmed")
        .await;
    assert_eq!(minor(&confirmed["paid"]), 3 * 12_900);
    assert_eq!(node.ledger(Some(&old_pi)).await, (0, 0, 0));
    assert_eq!(node.ledger(Some(&new_pi)).await, (3 * 12_900, 0, 0));

    // Cancelled early: everything paid comes back, from both of its payments.
    let reply = node
        .post(&format!("/api/v1/bookings/{id}/cancel"), ana, &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(minor(&reply.body["refund"]["amount"]), 3 * 12_900);
    let all_back = node
        .booking_when(ana, &id, |b| {
            b["payment"]["refunded"]["amount"].as_i64() == Some(12_900 + 3 * 12_900)
        })
        .await;
    assert_eq!(all_back["payment"]["status"], "refunded");
    assert_eq!(node.ledger(Some(&first_pi)).await, (25_800, 25_800, 0));
    assert_eq!(node.ledger(Some(&balance_pi)).await, (25_800, 25_800, 0));
    let (_, _, double) = node.ledger(None).await;
    assert_eq!(double, 0, "no intent captured twice");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_settle_their_price_difference_on_sqlite() {
    the_changes_journey(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_settle_their_price_difference_on_postgres() {
    the_changes_journey(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_payment_saga_end_to_end_on_sqlite() {
    the_whole_journey(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_payment_saga_end_to_end_on_postgres() {
    the_whole_journey(Backend::Postgres).await;
}

/// The same saga with events on Kafka (tansu), as the distributed shape carries them: every
/// relay publishes to the broker and every consumer (the booking's payment outcomes and hold
/// releases, payment's booking ends) reads its topic there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_payment_saga_runs_over_kafka() {
    let _serial = SERIAL.lock().await;
    let Some(tansu) = innkeeper_events::testing::Tansu::start().await else {
        return;
    };
    let overrides = [
        ("events.transport", json!("kafka")),
        ("events.kafka_brokers", json!(tansu.brokers())),
        ("events.kafka_fetch_wait_ms", json!(10)),
        ("payment.worker_poll_interval_ms", json!(20)),
        ("payment_provider.webhook_poll_interval_ms", json!(20)),
        ("payment_provider.webhook_backoff_base_ms", json!(50)),
    ];
    let Some(node) = TestNode::start(Backend::Sqlite, &overrides).await else {
        return;
    };
    let hotel = node.hotel("Hotel Kafka").await;
    let room_type = node.room_type(&hotel, "Double", 12_900, 3).await;
    let guests = node.guests(2).await;
    let (ana, bea) = (&guests[0], &guests[1]);

    // Paid: payment.succeeded travels through the broker and confirms the booking.
    let reply = node
        .post("/api/v1/bookings", ana, &stay(&hotel, &room_type))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let booking = reply.body;
    let id = booking["id"].as_str().expect("id").to_owned();
    let paid = node.pay(&booking, "pm_card_visa").await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
    let confirmed = node
        .booking_when(ana, &id, |b| b["status"] == "confirmed")
        .await;
    assert_eq!(confirmed["payment"]["status"], "paid");

    // Declined: payment.failed cancels, and the booking's own cancelled event, read back from
    // the broker by its hold releases, gives the rooms back.
    let reply = node
        .post("/api/v1/bookings", bea, &stay(&hotel, &room_type))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let declined_booking = reply.body;
    let declined_id = declined_booking["id"].as_str().expect("id").to_owned();
    let declined = node.pay(&declined_booking, "pm_card_chargeDeclined").await;
    assert!(declined.status.is_client_error(), "{}", declined.text());
    node.booking_when(bea, &declined_id, |b| b["status"] == "cancelled")
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.counters(&hotel, &room_type).await != vec![(0, 1), (0, 1)] {
        assert!(
            Instant::now() < deadline,
            "the declined booking's rooms did not come back: {:?}",
            node.counters(&hotel, &room_type).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Stopped before the broker goes (a Kafka consumer left running blocks on a dead broker).
    node.stop().await;
    drop(tansu);
}

/// The value at quantile `q` of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Prints the saga's latency over 50 bookings made and paid one after another: from the
/// payment at the provider to the booking read back `confirmed` (webhook, payment event,
/// confirmation, hold sold), and from `POST /bookings` to the same point. With the
/// compiled-in defaults (poll intervals included).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn saga_latency_in_the_embedded_shape() {
    const BOOKINGS: usize = 50;
    let _serial = SERIAL.lock().await;
    let Some(node) = TestNode::start(Backend::Sqlite, &[]).await else {
        return;
    };
    let hotel = node.hotel("Hotel Cronómetro").await;
    let room_type = node.room_type(&hotel, "Double", 9_900, 1).await;
    let guest = node.guests(1).await.remove(0);
    let (mut after_payment, mut end_to_end, mut create) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..BOOKINGS {
        let check_in = first_night() + time::Duration::days(20 + 2 * i as i64);
        let request = json!({
            "hotel_id": hotel, "room_type_id": room_type, "check_in": check_in.to_string(),
            "check_out": (check_in + time::Duration::days(1)).to_string(), "guests": 1,
            "guest_name": "Tim Keeper",
        });
        let started = Instant::now();
        let reply = node.post("/api/v1/bookings", &guest, &request).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        create.push(started.elapsed());
        let id = reply.body["id"].as_str().expect("id").to_owned();
        let paying = Instant::now();
        let paid = node.pay(&reply.body, "pm_card_visa").await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
        node.booking_when(&guest, &id, |b| b["status"] == "confirmed")
            .await;
        after_payment.push(paying.elapsed());
        end_to_end.push(started.elapsed());
    }
    for (name, samples) in [
        ("POST /bookings (hold + payment intent)", &mut create),
        (
            "paid at the provider -> booking confirmed",
            &mut after_payment,
        ),
        ("POST /bookings -> confirmed", &mut end_to_end),
    ] {
        samples.sort();
        eprintln!(
            "[saga latency, embedded, SQLite, {BOOKINGS} bookings] {name}: p50 {:.1?}, p99 {:.1?}, max {:.1?}",
            quantile(samples, 0.5),
            quantile(samples, 0.99),
            samples[samples.len() - 1]
        );
    }
    node.stop().await;
}
