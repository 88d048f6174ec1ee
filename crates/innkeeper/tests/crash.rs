//! The payment saga under crashes (issue 6): the split shape with payments (six processes,
//! each service on its own PostgreSQL database, events over Kafka) runs 200 sagas from
//! concurrent guests while a chaos task kills the booking, payment or payment-provider
//! process with `SIGKILL` at random moments and starts it again on the same ports and
//! database. Guests behave as real clients: every booking, payment and cancellation carries
//! an `Idempotency-Key` and is retried with the same key on connection errors, 5xx and 429.
//!
//! When the chaos stops and every process is back, the sagas must settle (bounded) into a
//! consistent state:
//! - no lost booking: every booking acknowledged with a 201 exists;
//! - each booking agrees with its payment: paid is confirmed (or cancelled and refunded in
//!   full), declined is cancelled, and what the guest was told holds;
//! - the provider's ledger has no double charge: at most one capture per intent, of the
//!   booking's total, refunds never above it, captures exactly for the succeeded payments;
//! - the catalog's counters are exact: per night, held = pending bookings, sold = confirmed.
//!
//! The seed (`CRASH_SEED` to override) fixes each guest's plan (cards, cancellations) and
//! the chaos schedule; the interleaving with the processes is the machine's.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use innkeeper_platform::testing::TempDir;
use serde_json::{Value, json};
use time::{Date, OffsetDateTime};

use support::{PROVIDER_KEY, PaymentShape, account};

/// Sagas in all, spread over [`CLIENTS`] concurrent guests.
const SAGAS: usize = 200;
const CLIENTS: usize = 20;
/// Disjoint two-night stays the sagas book, in turn.
const STAYS: usize = 4;
/// Sellable rooms per night: a little fewer than the sagas of a stay, so some sell out.
const ROOMS_PER_NIGHT: u32 = 45;
const DEFAULT_SEED: u64 = 20_261_130;
/// Share of sagas paying with a declined card, and of paid ones cancelled afterwards.
const DECLINE_PERCENT: u64 = 15;
const CANCEL_PERCENT: u64 = 25;
/// How long a client keeps retrying one request before it gives up.
const PATIENCE: Duration = Duration::from_secs(60);
/// How long a guest who paid waits for the booking to show confirmed before cancelling anyway.
const CONFIRM_PATIENCE: Duration = Duration::from_secs(15);
/// How long the sagas have to settle once the chaos stopped.
const SETTLE: Duration = Duration::from_secs(90);

/// SplitMix64: a small seeded generator (the test needs reproducible plans, not quality).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

/// What the guest was told when booking.
#[derive(Debug, Clone, PartialEq)]
enum Booked {
    /// 201, with the booking.
    Yes(Value),
    SoldOut,
    /// Another final answer (status, body).
    Refused(u16, String),
    /// Still failing after [`PATIENCE`].
    GaveUp(String),
}

/// What the provider told the guest when paying.
#[derive(Debug, Clone, PartialEq)]
enum Paid {
    NotTried,
    Charged,
    Declined,
    Refused(u16, String),
    GaveUp(String),
}

/// What the guest was told when cancelling a confirmed booking.
#[derive(Debug, Clone, PartialEq)]
enum Cancelled {
    NotAsked,
    /// 200.
    Yes,
    Refused(u16, String),
    GaveUp(String),
}

/// One saga: its plan and what the guest was told at each step.
#[derive(Debug, Clone)]
struct Saga {
    key: String,
    stay: usize,
    card: &'static str,
    cancel: bool,
    booked: Booked,
    paid: Paid,
    cancelled: Cancelled,
    /// The guest cancelled before the booking showed confirmed.
    cancelled_pending: bool,
    /// How long after paying the guest saw the booking confirmed (guests who cancel look).
    confirmed_after: Option<Duration>,
}

impl Saga {
    fn booking(&self) -> Option<&Value> {
        match &self.booked {
            Booked::Yes(booking) => Some(booking),
            _ => None,
        }
    }
}

/// The final answer to a request retried (same key) on connection errors, 5xx, 429 and a
/// key still in flight: `Ok((status, body))`, or `Err(last error)` after [`PATIENCE`].
async fn retrying(send: impl Fn() -> reqwest::RequestBuilder) -> Result<(u16, Value), String> {
    let deadline = Instant::now() + PATIENCE;
    let mut last = String::new();
    while Instant::now() < deadline {
        match send().timeout(Duration::from_secs(20)).send().await {
            Err(e) => last = format!("{e}"),
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.bytes().await {
                    Err(e) => last = format!("{status}, body lost: {e}"),
                    Ok(bytes) => {
                        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(&bytes).into_owned())
                        });
                        let in_flight =
                            status == 409 && body.to_string().contains("still being processed");
                        if status < 500 && status != 429 && !in_flight {
                            return Ok((status, body));
                        }
                        last = format!("{status} {body}");
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Err(last)
}

/// Where a guest's requests go.
struct Edge {
    api: String,
    provider: String,
    /// The provider's API and admin routes, with its API key.
    provider_api: reqwest::Client,
    stays: Vec<(Date, Date)>,
    hotel_id: String,
    room_type_id: String,
}

/// A guest running its sagas one after another: book, pay, maybe cancel.
async fn run_guest(edge: Arc<Edge>, guest: reqwest::Client, mut sagas: Vec<Saga>) -> Vec<Saga> {
    for saga in &mut sagas {
        run_saga(&edge, &guest, saga).await;
    }
    sagas
}

async fn run_saga(edge: &Edge, guest: &reqwest::Client, saga: &mut Saga) {
    let api = &edge.api;
    let (check_in, check_out) = edge.stays[saga.stay];
    let stay = json!({
        "hotel_id": edge.hotel_id, "room_type_id": edge.room_type_id,
        "check_in": check_in.to_string(), "check_out": check_out.to_string(),
        "guests": 1, "guest_name": "Ana Lima"
    });
    saga.booked = match retrying(|| {
        guest
            .post(format!("{api}/bookings"))
            .header("idempotency-key", &saga.key)
            .json(&stay)
    })
    .await
    {
        Ok((201, booking)) => Booked::Yes(booking),
        Ok((409, body)) if body["code"] == "sold_out" => Booked::SoldOut,
        Ok((status, body)) => Booked::Refused(status, body.to_string()),
        Err(last) => Booked::GaveUp(last),
    };
    let Some(booking) = saga.booking().cloned() else {
        return;
    };
    let Some(intent) = booking["payment"]["checkout_url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
    else {
        saga.paid = Paid::Refused(0, format!("no checkout link: {booking}"));
        return;
    };
    let confirm = format!("{}/v1/payment_intents/{intent}/confirm", edge.provider);
    saga.paid = match retrying(|| {
        edge.provider_api
            .post(&confirm)
            .header("idempotency-key", format!("pay-{}", saga.key))
            .json(&json!({"payment_method": saga.card}))
    })
    .await
    {
        Ok((200, _)) => Paid::Charged,
        Ok((402, _)) => Paid::Declined,
        Ok((status, body)) => Paid::Refused(status, body.to_string()),
        Err(last) => Paid::GaveUp(last),
    };
    if saga.paid != Paid::Charged || !saga.cancel {
        return;
    }
    // The guest cancels once the booking shows confirmed, or after [`CONFIRM_PATIENCE`] while
    // it is still pending: then the payment's success may reach a cancelled booking, which
    // must refund it.
    let id = booking["id"].as_str().unwrap_or_default();
    let paid_at = Instant::now();
    let deadline = paid_at + CONFIRM_PATIENCE;
    saga.cancelled_pending = true;
    while Instant::now() < deadline {
        if let Ok((200, read)) = retrying(|| guest.get(format!("{api}/bookings/{id}"))).await
            && read["status"] == "confirmed"
        {
            saga.cancelled_pending = false;
            saga.confirmed_after = Some(paid_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    saga.cancelled = match retrying(|| {
        guest
            .post(format!("{api}/bookings/{id}/cancel"))
            .header("idempotency-key", format!("cancel-{}", saga.key))
            .json(&json!({"reason": "plans changed"}))
    })
    .await
    {
        Ok((200, _)) => Cancelled::Yes,
        Ok((status, body)) => Cancelled::Refused(status, body.to_string()),
        Err(last) => Cancelled::GaveUp(last),
    };
}

/// The processes the chaos kills.
const VICTIMS: [&str; 3] = ["booking", "payment", "payment-provider"];

fn victim<'a>(shape: &'a mut PaymentShape, name: &str) -> &'a mut support::Process {
    match name {
        "booking" => &mut shape.booking,
        "payment" => &mut shape.payment,
        _ => &mut shape.provider,
    }
}

/// Until `stop`: every 0.5-2 s kills the next of [`VICTIMS`] (`SIGKILL`; in turn from a seeded
/// start, so each dies about as often as the others, at seeded random moments), waits
/// 0.2-1.5 s and starts it again. Answers the kills per process.
async fn chaos(
    shape: Arc<Mutex<PaymentShape>>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) -> BTreeMap<&'static str, u32> {
    let mut kills = BTreeMap::new();
    let mut turn = rng.between(0, 2) as usize;
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(rng.between(500, 2000))).await;
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let name = VICTIMS[turn % VICTIMS.len()];
        turn += 1;
        victim(&mut shape.lock().expect("shape"), name).kill();
        *kills.entry(name).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(rng.between(200, 1500))).await;
        victim(&mut shape.lock().expect("shape"), name).restart();
    }
    kills
}

/// What the services hold once the dust settles.
struct Observed {
    /// Every booking of the hotel by id (the hotelier's list).
    bookings: BTreeMap<String, Value>,
    /// The payment service's view of each booking's payment, by booking id.
    payments: BTreeMap<String, Value>,
    /// The provider's ledger.
    ledger: Value,
    /// `(held, sold)` per stay per night.
    counters: Vec<Vec<(u64, u64)>>,
}

/// Reads a JSON document, retrying through transient failures.
async fn read(client: &reqwest::Client, url: &str) -> Value {
    match retrying(|| client.get(url)).await {
        Ok((200, body)) => body,
        other => panic!("GET {url}: {other:?}"),
    }
}

async fn observe(
    edge: &Edge,
    hotelier: &reqwest::Client,
    guests: &BTreeMap<String, reqwest::Client>,
) -> Observed {
    let api = &edge.api;
    let mut bookings = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{api}/bookings?hotel_id={}&limit=100", edge.hotel_id);
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = read(hotelier, &url).await;
        for booking in page["items"].as_array().expect("items") {
            let id = booking["id"].as_str().expect("id").to_owned();
            bookings.insert(id, booking.clone());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut payments = BTreeMap::new();
    for (id, booking) in &bookings {
        let (Some(payment_id), Some(guest)) = (
            booking["payment"]["payment_id"].as_str(),
            booking["guest_id"].as_str().and_then(|g| guests.get(g)),
        ) else {
            continue;
        };
        let payment = read(guest, &format!("{api}/payments/{payment_id}")).await;
        payments.insert(id.clone(), payment);
    }
    let ledger = read(
        &edge.provider_api,
        &format!("{}/_admin/ledger", edge.provider),
    )
    .await;
    let mut counters = Vec::new();
    for (check_in, check_out) in &edge.stays {
        let nights = read(
            hotelier,
            &format!(
                "{api}/hotels/{}/inventory?from={check_in}&to={check_out}",
                edge.hotel_id
            ),
        )
        .await;
        counters.push(
            nights
                .as_array()
                .expect("nights")
                .iter()
                .map(|n| {
                    (
                        n["held"].as_u64().expect("held"),
                        n["sold"].as_u64().expect("sold"),
                    )
                })
                .collect(),
        );
    }
    Observed {
        bookings,
        payments,
        ledger,
        counters,
    }
}

/// The intent id in a booking's checkout link.
fn intent_of(booking: &Value) -> Option<&str> {
    booking["payment"]["checkout_url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
}

/// Every way the observed state is inconsistent with itself or with what the guests were
/// told; empty when the sagas have settled.
fn problems(edge: &Edge, sagas: &[Saga], seen: &Observed) -> Vec<String> {
    let mut problems = Vec::new();
    // Each booking agrees with its payment.
    for (id, booking) in &seen.bookings {
        let status = booking["status"].as_str().unwrap_or_default();
        let state = booking["payment"]["status"].as_str().unwrap_or_default();
        let total = booking["price"]["total"]["amount"].as_i64().unwrap_or(-1);
        let Some(payment) = seen.payments.get(id) else {
            problems.push(format!("booking {id} has no readable payment: {booking}"));
            continue;
        };
        let paid = payment["status"].as_str().unwrap_or_default();
        let refunded = payment["amount_refunded"]["amount"].as_i64().unwrap_or(-1);
        let consistent = match paid {
            "succeeded" if refunded == 0 => status == "confirmed" && state == "paid",
            "succeeded" if refunded == total => status == "cancelled" && state == "refunded",
            "failed" | "canceled" => status == "cancelled" && state == "failed",
            "requires_payment" => status == "pending_payment" && state == "awaiting_payment",
            _ => false,
        };
        if !consistent {
            problems.push(format!(
                "booking {id} is {status} (payment {state}) but its payment is {paid}, \
                 refunded {refunded} of {total}"
            ));
        }
    }
    // What each guest was told holds.
    for saga in sagas {
        let Some(acked) = saga.booking() else {
            continue;
        };
        let id = acked["id"].as_str().unwrap_or_default();
        let Some(booking) = seen.bookings.get(id) else {
            problems.push(format!(
                "LOST: booking {id} was acknowledged (201) but is gone"
            ));
            continue;
        };
        let status = booking["status"].as_str().unwrap_or_default();
        let paid = seen
            .payments
            .get(id)
            .and_then(|p| p["status"].as_str())
            .unwrap_or_default();
        let told = match (&saga.paid, &saga.cancelled) {
            (Paid::Charged, Cancelled::Yes) => paid == "succeeded" && status == "cancelled",
            (Paid::Charged, _) => paid == "succeeded",
            (Paid::Declined, _) => paid != "succeeded" && status == "cancelled",
            _ => true,
        };
        if !told {
            problems.push(format!(
                "saga {} was told {:?} / {:?} but booking {id} is {status}, payment {paid}",
                saga.key, saga.paid, saga.cancelled
            ));
        }
    }
    // The provider's ledger: no double charge, refunds within charges, charges exactly for
    // the succeeded payments and of their amount.
    if seen.ledger["double_captures"] != 0 {
        problems.push(format!(
            "DOUBLE CHARGE: {} intents captured more than once",
            seen.ledger["double_captures"]
        ));
    }
    let mut captured: BTreeMap<String, (u32, i64)> = BTreeMap::new();
    let mut refunded: BTreeMap<String, i64> = BTreeMap::new();
    for entry in seen.ledger["entries"].as_array().into_iter().flatten() {
        let intent = entry["payment_intent"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let amount = entry["amount"].as_i64().unwrap_or_default();
        match entry["kind"].as_str() {
            Some("capture") => {
                let c = captured.entry(intent).or_default();
                c.0 += 1;
                c.1 += amount;
            }
            _ => *refunded.entry(intent).or_default() += amount,
        }
    }
    let mut succeeded = BTreeSet::new();
    for (id, booking) in &seen.bookings {
        let Some(intent) = intent_of(booking) else {
            continue;
        };
        let total = booking["price"]["total"]["amount"].as_i64().unwrap_or(-1);
        let payment = seen.payments.get(id);
        let paid = payment
            .and_then(|p| p["status"].as_str())
            .unwrap_or_default();
        let back = payment
            .and_then(|p| p["amount_refunded"]["amount"].as_i64())
            .unwrap_or_default();
        let (captures, amount) = captured.get(intent).copied().unwrap_or_default();
        let returned = refunded.get(intent).copied().unwrap_or_default();
        if paid == "succeeded" {
            succeeded.insert(intent.to_owned());
            if captures != 1 || amount != total || returned != back {
                problems.push(format!(
                    "intent {intent} of booking {id}: {captures} captures of {amount} \
                     (total {total}), refunded {returned} at the provider, {back} by payment"
                ));
            }
        }
        if returned > amount {
            problems.push(format!(
                "intent {intent}: refunded {returned} above captured {amount}"
            ));
        }
    }
    for intent in captured.keys() {
        if !succeeded.contains(intent) {
            problems.push(format!(
                "intent {intent} was captured but no booking's payment succeeded with it"
            ));
        }
    }
    // The catalog's counters: held = pending bookings, sold = confirmed ones, every night.
    for (stay, (check_in, _)) in edge.stays.iter().enumerate() {
        let count = |wanted: &str| {
            seen.bookings
                .values()
                .filter(|b| {
                    b["stay"]["check_in"].as_str() == Some(&check_in.to_string())
                        && b["status"] == wanted
                })
                .count() as u64
        };
        let expected = (count("pending_payment"), count("confirmed"));
        for (night, counters) in seen.counters[stay].iter().enumerate() {
            if *counters != expected {
                problems.push(format!(
                    "stay {stay} night {night}: (held, sold) = {counters:?}, the bookings \
                     imply {expected:?}"
                ));
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_end_consistent_when_booking_payment_and_provider_crash() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    println!("crash test seed {seed} (CRASH_SEED to repeat)");
    let Some(tansu) = innkeeper_events::testing::Tansu::start().await else {
        return;
    };
    let Some(databases) = support::payment_shape_databases().await else {
        return;
    };
    let dir = TempDir::new("crash");
    // A crash mid-request leaves its key in flight until the lease ends; a real client's
    // retries should not wait a minute for it.
    let booking_env = [(
        "INNKEEPER__BOOKING__IDEMPOTENCY_LEASE_SECONDS",
        "10".to_owned(),
    )];
    // Twenty guests polling from one address: the edge's quotas are not under test here.
    let gateway_env = [(
        "INNKEEPER__GATEWAY__RATE_LIMIT__ENABLED",
        "false".to_owned(),
    )];
    let shape = PaymentShape::start(&dir.path, &tansu, &databases, &booking_env, &gateway_env);
    let http = reqwest::Client::new();
    shape.wait_ready(&http).await;
    let api = format!("{}/api/v1", shape.base());
    let provider = shape.provider_url.clone();
    let shape = Arc::new(Mutex::new(shape));

    // A hotel with one room type, sellable on four disjoint two-night stays.
    let hotelier = account(&api, "hotelier").await;
    let (hotel_id, room_type_id) = support::hotel_with_rooms(
        &api,
        &hotelier,
        json!({
            "name": "Hotel Resiliente", "address": "Rua Firme 1", "city": "Braga",
            "country": "PT", "location": {"lat": 41.55, "lon": -8.42}, "currency": "EUR"
        }),
        json!({"name": "Single", "capacity": 1, "base_price": {"amount": 9000, "currency": "EUR"}}),
        &["1"],
    )
    .await;
    let first = OffsetDateTime::now_utc().date() + time::Duration::days(40);
    let stays: Vec<(Date, Date)> = (0..STAYS as i64)
        .map(|k| {
            let check_in = first + time::Duration::days(3 * k);
            (check_in, check_in + time::Duration::days(2))
        })
        .collect();
    let resp = hotelier
        .put(format!(
            "{api}/hotels/{hotel_id}/room-types/{room_type_id}/inventory"
        ))
        .json(&json!({
            "from": first.to_string(), "to": stays[STAYS - 1].1.to_string(),
            "total": ROOMS_PER_NIGHT
        }))
        .send()
        .await
        .expect("set inventory");
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let edge = Arc::new(Edge {
        api: api.clone(),
        provider,
        provider_api: support::bearer(PROVIDER_KEY),
        stays,
        hotel_id,
        room_type_id,
    });

    // The guests and their plans.
    let mut guests = BTreeMap::new();
    let mut plans = Vec::new();
    for client in 0..CLIENTS {
        let guest = account(&api, "guest").await;
        let me = read(&guest, &format!("{api}/me")).await;
        guests.insert(
            me["id"].as_str().expect("user id").to_owned(),
            guest.clone(),
        );
        let mut rng = Rng(seed ^ (client as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
        let sagas: Vec<Saga> = (client..SAGAS)
            .step_by(CLIENTS)
            .map(|n| Saga {
                key: format!("crash-{seed}-{n}"),
                stay: n % STAYS,
                card: if rng.percent(DECLINE_PERCENT) {
                    "pm_card_chargeDeclined"
                } else {
                    "pm_card_visa"
                },
                cancel: rng.percent(CANCEL_PERCENT),
                booked: Booked::GaveUp("not run".to_owned()),
                paid: Paid::NotTried,
                cancelled: Cancelled::NotAsked,
                cancelled_pending: false,
                confirmed_after: None,
            })
            .collect();
        plans.push((guest, sagas));
    }

    // The sagas run while the chaos kills.
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let chaos = tokio::spawn(chaos(
        shape.clone(),
        Rng(seed ^ 0xC4A0_5C4A_05C4_A05C),
        stop.clone(),
    ));
    let runs: Vec<_> = plans
        .into_iter()
        .map(|(guest, sagas)| tokio::spawn(run_guest(edge.clone(), guest, sagas)))
        .collect();
    let mut sagas = Vec::new();
    for run in runs {
        sagas.extend(run.await.expect("guest task"));
    }
    stop.store(true, Ordering::SeqCst);
    let kills = chaos.await.expect("chaos task");
    let ran = started.elapsed();

    // Everything is back: the sagas settle.
    let settling = Instant::now();
    let exited = shape.lock().expect("shape").restart_exited();
    assert!(
        exited.is_empty(),
        "processes ended on their own: {exited:?}"
    );
    let probe = reqwest::Client::new();
    let restarted = {
        let shape = shape.lock().expect("shape");
        [shape.booking_http, shape.payment_http, shape.provider_http]
    };
    for addr in restarted {
        support::wait_ready(&probe, &format!("http://{addr}")).await;
    }
    let (seen, left) = loop {
        let seen = observe(&edge, &hotelier, &guests).await;
        let left = problems(&edge, &sagas, &seen);
        if left.is_empty() || settling.elapsed() > SETTLE {
            break (seen, left);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // The figures.
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for saga in &sagas {
        let booked = match &saga.booked {
            Booked::Yes(_) => "booked".to_owned(),
            other => format!("{other:?}").chars().take(60).collect(),
        };
        let paid: String = format!("{:?}", saga.paid).chars().take(60).collect();
        let cancelled: String = format!("{:?}", saga.cancelled).chars().take(60).collect();
        *outcomes
            .entry(format!("{booked} / {paid} / {cancelled}"))
            .or_default() += 1;
    }
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for booking in seen.bookings.values() {
        *statuses
            .entry(booking["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    let acked = sagas.iter().filter(|s| s.booking().is_some()).count();
    println!(
        "crash test: {} sagas by {CLIENTS} guests in {:.1} s; kills {kills:?}; settled in {:.1} s",
        sagas.len(),
        ran.as_secs_f64(),
        settling.elapsed().as_secs_f64()
    );
    for (outcome, n) in &outcomes {
        println!("  {n:>4}  {outcome}");
    }
    println!(
        "  bookings: {} acknowledged, {} in the hotel's list {statuses:?}; ledger: captured {} \
         on {} intents, refunded {}, double captures {}",
        acked,
        seen.bookings.len(),
        seen.ledger["captured"],
        seen.ledger["captured_intents"],
        seen.ledger["refunded"],
        seen.ledger["double_captures"]
    );
    println!("  counters (held, sold) per stay: {:?}", seen.counters);
    let mut waits: Vec<Duration> = sagas.iter().filter_map(|s| s.confirmed_after).collect();
    waits.sort();
    println!(
        "  paid bookings the guest cancelled while still pending (no confirmation in {} s): {}; \
         confirmations seen after paying: {} (median {:?}, max {:?})",
        CONFIRM_PATIENCE.as_secs(),
        sagas.iter().filter(|s| s.cancelled_pending).count(),
        waits.len(),
        waits.get(waits.len() / 2),
        waits.last()
    );

    assert!(
        left.is_empty(),
        "not consistent {:.0} s after the chaos stopped ({} problems):\n{}",
        SETTLE.as_secs_f64(),
        left.len(),
        left.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
    // Every saga ran to an answer: the guests never gave up, and every refusal is one a
    // client may get (sold out), never a server's confusion.
    let unexpected: Vec<&Saga> = sagas
        .iter()
        .filter(|s| {
            !matches!(s.booked, Booked::Yes(_) | Booked::SoldOut)
                || matches!(s.paid, Paid::Refused(..) | Paid::GaveUp(_))
                || !matches!(s.cancelled, Cancelled::NotAsked | Cancelled::Yes)
                || (s.booking().is_some() && s.paid == Paid::NotTried)
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "sagas without a clean answer: {unexpected:#?}"
    );
    for name in VICTIMS {
        assert!(
            kills.get(name).is_some_and(|&n| n > 0),
            "the chaos never killed {name}: {kills:?}"
        );
    }
    assert!(acked > 0, "no saga booked");
    drop(tansu);
}
