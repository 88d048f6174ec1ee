//! Bookings never oversell, shown through the real HTTP stack: a node running every service
//! (gateway, identity, catalog, booking) on a free port, driven by an HTTP client, on SQLite
//! and on PostgreSQL (required under CI; off CI skipped loudly when it is down).
//!
//! - the last-room race: 64 guests at once for the last unit of a three-night stay, 200
//!   times: one `201`, 63 `409 sold_out`, no server error, exact counters, one booking;
//! - a storm of creates, changes (`If-Match`), cancellations, payments (`payment.succeeded`)
//!   and expiries over six rooms, with the invariants checked after every step;
//! - one `Idempotency-Key` sent 64 times at once runs once and replays byte for byte;
//! - two changes sent with the same `ETag` at once: one `200`, one `412`;
//! - the race's checks catch an inventory that checks, yields, then writes.
//!
//! Each test prints its wall time and counts (`cargo test -p innkeeper-runtime --test
//! booking_races -- --nocapture`).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::join_all;
use http::{Method, StatusCode};
use innkeeper_booking::contracts::{PAYMENT_TOPIC, PaymentSucceeded};
use innkeeper_catalog::api::HoldStatus;
use innkeeper_events::{ConsumerSettings, Delivery, Dispatcher, Outbox};
use innkeeper_kernel::{HoldId, Money};
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use support::race::{CheckThenInsert, LastUnit, Night, Outcome, RaceReport, race};
use support::{Backend, Reply, SERIAL, TestNode, first_night};
use time::Date;

/// Guests racing for the last unit.
const CONTENDERS: usize = 64;
/// Races per backend, each for a fresh last unit.
const TRIALS: usize = 200;
/// Nights of the raced stay.
const RACE_NIGHTS: i64 = 3;

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

/// A booking request for one guest.
fn booking_request(hotel: &str, room_type: &str, check_in: Date, check_out: Date) -> Value {
    json!({
        "hotel_id": hotel,
        "room_type_id": room_type,
        "check_in": check_in.to_string(),
        "check_out": check_out.to_string(),
        "guests": 1,
        "guest_name": "Race Guest",
    })
}

// ---------------------------------------------------------------------------------------------
// 1. The last-room race
// ---------------------------------------------------------------------------------------------

/// The node as a [`LastUnit`]: one hotel whose one room type has one room; each trial races
/// for its own three-night window, so the unit is fresh every time.
struct HttpLastUnit {
    node: Arc<TestNode>,
    guests: Arc<Vec<String>>,
    hotel: String,
    room_type: String,
    check_in: Date,
}

impl HttpLastUnit {
    fn check_out(&self) -> Date {
        self.check_in + days(RACE_NIGHTS)
    }
}

#[async_trait]
impl LastUnit for HttpLastUnit {
    async fn book(&self, guest: usize) -> Outcome {
        let request = booking_request(
            &self.hotel,
            &self.room_type,
            self.check_in,
            self.check_out(),
        );
        let reply = self
            .node
            .post("/api/v1/bookings", &self.guests[guest], &request)
            .await;
        if reply.status == StatusCode::CREATED && reply.body["status"] == "pending_payment" {
            Outcome::Created
        } else if reply.is_problem(409, "sold_out") {
            Outcome::SoldOut
        } else {
            Outcome::Other {
                status: reply.status.as_u16(),
                what: format!("{} {}", reply.summary(), reply.body["detail"]),
            }
        }
    }

    async fn nights(&self) -> Vec<Night> {
        self.node
            .inventory(&self.hotel, self.check_in, self.check_out())
            .await
            .into_iter()
            .filter(|(rt, ..)| *rt == self.room_type)
            .map(|(_, _, total, held, sold)| Night { total, held, sold })
            .collect()
    }

    async fn bookings(&self) -> usize {
        let window = (self.check_in, self.check_out());
        self.node
            .hotel_bookings(&self.hotel, Some(window))
            .await
            .iter()
            .filter(|b| {
                b["stay"]["check_in"] == self.check_in.to_string()
                    && b["room_type_id"] == self.room_type.as_str()
            })
            .count()
    }
}

async fn the_last_room_sells_exactly_once(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(node) = TestNode::start(backend, &[]).await else {
        return;
    };
    let node = Arc::new(node);
    let guests = Arc::new(node.guests(CONTENDERS).await);
    let hotel = node.hotel("Last Room Inn").await;
    let room_type = node.room_type(&hotel, "Single", 10_000, 1).await;

    let started = Instant::now();
    let mut totals = RaceReport::default();
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    for trial in 0..TRIALS {
        let check_in = first_night() + days(RACE_NIGHTS * i64::try_from(trial).expect("small"));
        let system = Arc::new(HttpLastUnit {
            node: node.clone(),
            guests: guests.clone(),
            hotel: hotel.clone(),
            room_type: room_type.clone(),
            check_in,
        });
        let t = Instant::now();
        let report = race(system, CONTENDERS).await;
        slowest = slowest.max(t.elapsed());
        let violations = report.violations(CONTENDERS, 3, 1);
        if !violations.is_empty() {
            failures.push(format!("trial {trial} ({check_in}): {violations:?}"));
        }
        totals.created += report.created;
        totals.sold_out += report.sold_out;
        totals.server_errors += report.server_errors;
        totals.others.extend(report.others);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "[{backend:?}] last-room race: {TRIALS} trials x {CONTENDERS} guests in {elapsed:.1?} \
         ({:.0?} per trial, slowest {slowest:.0?}): {} created, {} sold_out, {} server errors, \
         {} other answers, {} failed trials",
        elapsed / u32::try_from(TRIALS).expect("small"),
        totals.created,
        totals.sold_out,
        totals.server_errors,
        totals.others.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {TRIALS} trials failed; first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(totals.created, TRIALS);
    assert_eq!(totals.sold_out, TRIALS * (CONTENDERS - 1));
    Arc::into_inner(node).expect("one owner").stop().await;
}

// ---------------------------------------------------------------------------------------------
// 5. The checks can fail
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_race_checks_catch_an_inventory_that_checks_then_writes() {
    let broken = Arc::new(CheckThenInsert::new(3, 1, false));
    let report = race(broken, CONTENDERS).await;
    let violations = report.violations(CONTENDERS, 3, 1);
    eprintln!("check-then-insert: {report:?} -> {violations:#?}");
    assert!(report.created > 1, "{report:?}");
    assert!(
        violations.iter().any(|v| v.contains("oversold")),
        "{violations:?}"
    );
    assert!(
        violations.iter().any(|v| v.contains("bookings exist")),
        "{violations:?}"
    );

    // The same checks pass an inventory whose check and write are one step.
    let atomic = Arc::new(CheckThenInsert::new(3, 1, true));
    let report = race(atomic, CONTENDERS).await;
    assert_eq!(report.violations(CONTENDERS, 3, 1), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// 3. Idempotency
// ---------------------------------------------------------------------------------------------

/// Rounds of the idempotency race, each with its own key and stay.
const KEY_ROUNDS: usize = 10;

async fn one_key_sent_at_once_books_once(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(node) = TestNode::start(backend, &[]).await else {
        return;
    };
    let node = Arc::new(node);
    let guest = Arc::new(node.guests(1).await.remove(0));
    let hotel = node.hotel("Casa Chave").await;
    let room_type = node.room_type(&hotel, "Double", 12_000, 4).await;
    let started = Instant::now();
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    for round in 0..KEY_ROUNDS {
        let check_in = first_night() + days(3 * i64::try_from(round).expect("small"));
        let check_out = check_in + days(2);
        let request = Arc::new(booking_request(&hotel, &room_type, check_in, check_out));
        let key = Arc::new(format!("race-key-{round}"));
        let start = Arc::new(tokio::sync::Barrier::new(CONTENDERS));
        let sends: Vec<_> = (0..CONTENDERS)
            .map(|_| {
                let (node, guest, request, key, start) = (
                    node.clone(),
                    guest.clone(),
                    request.clone(),
                    key.clone(),
                    start.clone(),
                );
                tokio::spawn(async move {
                    start.wait().await;
                    node.send(
                        Method::POST,
                        "/api/v1/bookings",
                        Some(&guest),
                        &[("idempotency-key", &key)],
                        Some(&request),
                    )
                    .await
                })
            })
            .collect();
        let mut replies: Vec<Reply> = Vec::new();
        for send in sends {
            replies.push(send.await.expect("send"));
        }
        let fresh: Vec<&Reply> = replies
            .iter()
            .filter(|r| {
                r.status == StatusCode::CREATED && r.header("idempotency-replayed").is_empty()
            })
            .collect();
        assert_eq!(fresh.len(), 1, "round {round}: one execution");
        let first = fresh[0];
        for reply in &replies {
            let kind = if reply.status == StatusCode::CREATED {
                if reply.header("idempotency-replayed") == "true" {
                    assert_eq!(reply.bytes, first.bytes, "a replay is the first answer");
                    assert_eq!(reply.header("etag"), first.header("etag"));
                    "201 replayed"
                } else {
                    "201 first"
                }
            } else if reply.is_problem(409, "conflict") {
                "409 conflict (in progress)"
            } else {
                panic!(
                    "round {round}: unexpected answer {}: {}",
                    reply.summary(),
                    reply.text()
                );
            };
            *answers.entry(kind.to_owned()).or_default() += 1;
        }

        // Afterwards a replay is byte for byte the first answer.
        let again = node
            .send(
                Method::POST,
                "/api/v1/bookings",
                Some(&guest),
                &[("idempotency-key", &key)],
                Some(&request),
            )
            .await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
        assert_eq!(again.header("idempotency-replayed"), "true");
        assert_eq!(
            again.bytes, first.bytes,
            "round {round}: byte-identical replay"
        );

        // One booking, one hold.
        let listed = node
            .hotel_bookings(&hotel, Some((check_in, check_out)))
            .await;
        let ours: Vec<&Value> = listed
            .iter()
            .filter(|b| b["stay"]["check_in"] == check_in.to_string())
            .collect();
        assert_eq!(ours.len(), 1, "round {round}: {listed:?}");
        assert_eq!(ours[0]["id"], first.body["id"]);
        for (_, night, total, held, sold) in node.inventory(&hotel, check_in, check_out).await {
            assert_eq!(
                (total, held, sold),
                (4, 1, 0),
                "round {round}, night {night}"
            );
        }
        let hold: HoldId = serde_json::from_value(first.body["hold_id"].clone()).expect("hold");
        let hold = node.catalog.get_hold(hold).await.expect("the hold");
        assert_eq!(hold.status, HoldStatus::Held);
    }
    let mine = node.get("/api/v1/bookings?limit=100", &guest).await;
    assert_eq!(
        mine.body["items"].as_array().map(Vec::len),
        Some(KEY_ROUNDS),
        "{}",
        mine.text()
    );
    eprintln!(
        "[{backend:?}] idempotency: {KEY_ROUNDS} rounds x {CONTENDERS} requests with one key in \
         {:.1?}: {answers:?}",
        started.elapsed()
    );
    Arc::into_inner(node).expect("one owner").stop().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Optimistic locking
// ---------------------------------------------------------------------------------------------

/// Rounds of two concurrent changes with the same `ETag`.
const ETAG_ROUNDS: usize = 20;

async fn two_changes_with_one_etag_one_wins(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(node) = TestNode::start(backend, &[]).await else {
        return;
    };
    let guest = node.guests(1).await.remove(0);
    let hotel = node.hotel("Casa Versao").await;
    let room_type = node.room_type(&hotel, "Double", 12_000, 3).await;
    let started = Instant::now();
    let mut winners: BTreeMap<&str, usize> = BTreeMap::new();
    for round in 0..ETAG_ROUNDS {
        let check_in = first_night() + days(5 * i64::try_from(round).expect("small"));
        let request = booking_request(&hotel, &room_type, check_in, check_in + days(2));
        let created = node.post("/api/v1/bookings", &guest, &request).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let uri = format!(
            "/api/v1/bookings/{}",
            created.body["id"].as_str().expect("id")
        );
        let etag = created.header("etag").to_owned();
        assert_eq!(etag, "\"1\"");
        // Two different changes, each possible alone.
        let longer = json!({"check_out": (check_in + days(3)).to_string()});
        let later = json!({"check_in": (check_in + days(1)).to_string(),
                           "check_out": (check_in + days(4)).to_string()});
        let headers = [("if-match", etag.as_str())];
        let (a, b) = tokio::join!(
            node.send(Method::PATCH, &uri, Some(&guest), &headers, Some(&longer)),
            node.send(Method::PATCH, &uri, Some(&guest), &headers, Some(&later)),
        );
        let (won, lost, winner) = match (a.status.as_u16(), b.status.as_u16()) {
            (200, _) => (&a, &b, "longer"),
            (_, 200) => (&b, &a, "later"),
            _ => panic!(
                "round {round}: no change won: {} {} / {} {}",
                a.summary(),
                a.text(),
                b.summary(),
                b.text()
            ),
        };
        assert!(
            lost.is_problem(412, "version_mismatch"),
            "round {round}: the other change got {}: {}",
            lost.summary(),
            lost.text()
        );
        assert_eq!(won.header("etag"), "\"2\"");
        *winners.entry(winner).or_default() += 1;

        // The booking is the winner's, and only its stay is held (the loser's hold is back).
        let now = node.get(&uri, &guest).await;
        assert_eq!(now.body, won.body);
        let (from, to) = (
            now.body["stay"]["check_in"]
                .as_str()
                .expect("in")
                .to_owned(),
            now.body["stay"]["check_out"]
                .as_str()
                .expect("out")
                .to_owned(),
        );
        for (_, night, total, held, sold) in
            node.inventory(&hotel, check_in, check_in + days(4)).await
        {
            let booked = u32::from(night >= from && night < to);
            assert_eq!(
                (total, held, sold),
                (3, booked, 0),
                "round {round}, night {night}"
            );
        }
    }
    eprintln!(
        "[{backend:?}] optimistic locking: {ETAG_ROUNDS} rounds in {:.1?}, winners {winners:?}",
        started.elapsed()
    );
    node.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 2. The storm
// ---------------------------------------------------------------------------------------------

/// Steps of the storm per backend.
const STORM_STEPS: usize = 300;
/// Guests of the storm.
const STORM_GUESTS: usize = 16;
/// Nights stays fall in.
const STORM_WINDOW: i64 = 10;
/// Room types, each with two rooms.
const STORM_ROOM_TYPES: usize = 3;
/// Unpaid holds lapse after this long.
const STORM_HOLD_TTL_SECONDS: u32 = 2;
/// Steps that only wait for the unpaid holds to lapse (each a TTL long); holds also lapse
/// while the other steps run.
const EXPIRY_WAIT_PERCENT: u32 = 3;

/// One booking the node acknowledged with `201`.
#[derive(Debug, Clone)]
struct Acknowledged {
    id: String,
    guest: usize,
}

/// What one operation of a step does.
#[derive(Debug, Clone)]
enum Op {
    Create {
        guest: usize,
        room_type: usize,
        stay: (Date, Date),
    },
    /// Read the booking, then `PATCH` it with `If-Match` (the version read, or one before it).
    Modify {
        booking: usize,
        stale: bool,
        room_type: Option<usize>,
        stay: (Date, Date),
    },
    Cancel {
        booking: usize,
    },
    /// `payment.succeeded` for the booking, through the payment consumer.
    Pay {
        booking: usize,
    },
}

/// What one operation got.
struct Done {
    /// Such as `create 201` or `modify 412 version_mismatch`.
    label: String,
    /// A booking the node acknowledged, and whose it is.
    created: Option<Value>,
    guest: Option<usize>,
    /// A booking as a change left it.
    changed: Option<Value>,
    /// An answer the operation must never get.
    unexpected: Option<String>,
}

struct Storm {
    node: Arc<TestNode>,
    guests: Vec<String>,
    hotel: String,
    room_types: Vec<String>,
    payments: Dispatcher,
}

impl Storm {
    fn window_start(&self) -> Date {
        first_night()
    }

    fn window_end(&self) -> Date {
        first_night() + days(STORM_WINDOW)
    }

    fn stay(&self, rng: &mut impl rand::Rng) -> (Date, Date) {
        let from = rng.random_range(0..STORM_WINDOW);
        let nights = rng.random_range(1..=3).min(STORM_WINDOW - from);
        (
            self.window_start() + days(from),
            self.window_start() + days(from + nights),
        )
    }

    async fn run(&self, op: Op, acknowledged: &[Acknowledged]) -> Done {
        let mut done = Done {
            label: String::new(),
            created: None,
            guest: None,
            changed: None,
            unexpected: None,
        };
        match op {
            Op::Create {
                guest,
                room_type,
                stay,
            } => {
                let request =
                    booking_request(&self.hotel, &self.room_types[room_type], stay.0, stay.1);
                let reply = self
                    .node
                    .post("/api/v1/bookings", &self.guests[guest], &request)
                    .await;
                done.label = format!("create {}", reply.summary());
                if reply.status == StatusCode::CREATED {
                    done.created = Some(reply.body);
                    done.guest = Some(guest);
                } else if !reply.is_problem(409, "sold_out") {
                    done.unexpected = Some(reply.text());
                }
            }
            Op::Modify {
                booking,
                stale,
                room_type,
                stay,
            } => {
                let target = &acknowledged[booking];
                let token = &self.guests[target.guest];
                let uri = format!("/api/v1/bookings/{}", target.id);
                let read = self.node.get(&uri, token).await;
                if read.status != StatusCode::OK {
                    done.label = format!("modify-read {}", read.summary());
                    done.unexpected = Some(read.text());
                    return done;
                }
                let version = read.body["version"].as_i64().expect("version");
                let etag = format!("\"{}\"", if stale { version - 1 } else { version });
                let mut patch = json!({"check_in": stay.0.to_string(),
                                       "check_out": stay.1.to_string()});
                if let Some(rt) = room_type {
                    patch["room_type_id"] = json!(self.room_types[rt]);
                }
                let reply = self
                    .node
                    .send(
                        Method::PATCH,
                        &uri,
                        Some(token),
                        &[("if-match", &etag)],
                        Some(&patch),
                    )
                    .await;
                done.label = format!("modify {}", reply.summary());
                let fine = reply.status == StatusCode::OK
                    || reply.is_problem(412, "version_mismatch")
                    || reply.is_problem(409, "sold_out")
                    || reply.is_problem(409, "invalid_state")
                    || reply.is_problem(409, "conflict");
                if reply.status == StatusCode::OK {
                    done.changed = Some(reply.body);
                } else if !fine {
                    done.unexpected = Some(reply.text());
                }
            }
            Op::Cancel { booking } => {
                let target = &acknowledged[booking];
                let reply = self
                    .node
                    .post(
                        &format!("/api/v1/bookings/{}/cancel", target.id),
                        &self.guests[target.guest],
                        &json!({"reason": "storm"}),
                    )
                    .await;
                done.label = format!("cancel {}", reply.summary());
                if reply.status == StatusCode::OK {
                    done.changed = Some(reply.body);
                } else if !reply.is_problem(409, "invalid_state") {
                    done.unexpected = Some(reply.text());
                }
            }
            Op::Pay { booking } => {
                let target = &acknowledged[booking];
                let read = self
                    .node
                    .get(
                        &format!("/api/v1/bookings/{}", target.id),
                        &self.guests[target.guest],
                    )
                    .await;
                let amount: Money =
                    serde_json::from_value(read.body["price"]["total"].clone()).expect("price");
                const PAYMENT: Outbox = Outbox::new("/innkeeper/payment", PAYMENT_TOPIC);
                let booking_id = uuid::Uuid::parse_str(&target.id).expect("id");
                // The payment the booking waits for (a booking ignores any other).
                let payment_id = read.body["payment"]["payment_id"]
                    .as_str()
                    .and_then(|id| uuid::Uuid::parse_str(id).ok())
                    .unwrap_or_else(uuid::Uuid::now_v7);
                let event = PAYMENT
                    .event(
                        booking_id,
                        &PaymentSucceeded {
                            payment_id,
                            booking_id,
                            amount,
                            late: false,
                        },
                    )
                    .expect("event");
                let delivered = self.payments.deliver(&event).await.expect("deliver");
                done.label = format!("pay {delivered:?} ({})", read.body["status"]);
                if delivered != Delivery::Handled {
                    done.unexpected = Some(format!("{delivered:?}"));
                }
            }
        }
        done
    }
}

/// What the checker knows of holds: every hold id seen in an answer, and the ones known to
/// be over (released or expired: they never come back).
#[derive(Default)]
struct Holds {
    seen: BTreeSet<String>,
    over: BTreeMap<String, HoldStatus>,
}

/// Problems an invariant check found: `hard` ones are wrong whenever seen; `settling` ones
/// may be the consumers not having caught up yet (an expired hold's booking not yet
/// expired), and must be gone within a few seconds.
#[derive(Default, Debug)]
struct Problems {
    hard: Vec<String>,
    /// Each with its kind, for the summary.
    settling: Vec<(&'static str, String)>,
}

/// The hotel's counters as `(room type, night) -> (total, held, sold)`.
type Counters = BTreeMap<(String, String), (u32, u32, u32)>;

impl Storm {
    async fn counters(&self) -> Counters {
        self.node
            .inventory(&self.hotel, self.window_start(), self.window_end())
            .await
            .into_iter()
            .map(|(rt, night, total, held, sold)| ((rt, night), (total, held, sold)))
            .collect()
    }

    /// Checks every invariant once.
    async fn check(&self, acknowledged: &[Acknowledged], holds: &mut Holds) -> Problems {
        let mut problems = Problems::default();
        // Every acknowledged booking is listed; nothing else is.
        let listed: HashMap<String, Value> = self
            .node
            .hotel_bookings(&self.hotel, None)
            .await
            .into_iter()
            .map(|b| (b["id"].as_str().expect("id").to_owned(), b))
            .collect();
        let acked: BTreeSet<&str> = acknowledged.iter().map(|a| a.id.as_str()).collect();
        for id in &acked {
            if !listed.contains_key(*id) {
                problems
                    .hard
                    .push(format!("acknowledged booking {id} is lost"));
            }
        }
        for (id, booking) in &listed {
            if !acked.contains(id.as_str()) {
                problems
                    .hard
                    .push(format!("phantom booking {id}: {booking}"));
            }
            let hold = booking["hold_id"].as_str().expect("hold").to_owned();
            if !holds.seen.contains(&hold) {
                problems
                    .hard
                    .push(format!("booking {id} has hold {hold}, never in any answer"));
                holds.seen.insert(hold);
            }
        }

        // A consistent view of counters and holds: only the sweeper and the consumers change
        // them meanwhile, and only downwards, so equal counters before and after mean the
        // holds read in between are the ones the counters count.
        let mut statuses: HashMap<String, innkeeper_catalog::api::Hold> = HashMap::new();
        let mut counters = self.counters().await;
        for attempt in 0.. {
            statuses.clear();
            for id in &holds.seen {
                if holds.over.contains_key(id) {
                    continue;
                }
                let hold_id: HoldId = serde_json::from_value(json!(id)).expect("hold id");
                match self.node.catalog.get_hold(hold_id).await {
                    Ok(hold) => {
                        statuses.insert(id.clone(), hold);
                    }
                    Err(err) => problems.hard.push(format!("hold {id}: {err}")),
                }
            }
            let again = self.counters().await;
            if again == counters {
                break;
            }
            counters = again;
            assert!(attempt < 100, "the counters never stood still");
        }
        for (id, hold) in &statuses {
            if matches!(hold.status, HoldStatus::Released | HoldStatus::Expired) {
                holds.over.insert(id.clone(), hold.status);
            }
        }

        // Counters: never held + sold > total; held and sold are what the active holds add up to.
        let mut implied: BTreeMap<(String, String), (u32, u32)> = BTreeMap::new();
        for hold in statuses.values() {
            for night in hold.stay.nights() {
                let entry = implied
                    .entry((hold.room_type_id.to_string(), night.to_string()))
                    .or_default();
                match hold.status {
                    HoldStatus::Held => entry.0 += hold.quantity,
                    HoldStatus::Confirmed => entry.1 += hold.quantity,
                    _ => {}
                }
            }
        }
        for (key, (total, held, sold)) in &counters {
            if held + sold > *total {
                problems.hard.push(format!(
                    "{key:?} oversold: held {held} + sold {sold} > total {total}"
                ));
            }
            let (h, s) = implied.get(key).copied().unwrap_or_default();
            if (*held, *sold) != (h, s) {
                problems.hard.push(format!(
                    "{key:?}: counters held {held} sold {sold}, \
                     active holds add up to held {h} sold {s}"
                ));
            }
        }
        for (key, (h, s)) in &implied {
            if (*h, *s) != (0, 0) && !counters.contains_key(key) {
                problems
                    .hard
                    .push(format!("{key:?}: holds {h}/{s} but no counters"));
            }
        }

        // Every booking has the hold its status needs; no other hold is active.
        let mut current: BTreeSet<String> = BTreeSet::new();
        for (id, booking) in &listed {
            let hold_id = booking["hold_id"].as_str().expect("hold").to_owned();
            let status = booking["status"].as_str().expect("status");
            let hold_status = statuses
                .get(&hold_id)
                .map(|h| h.status)
                .or_else(|| holds.over.get(&hold_id).copied());
            let Some(hold_status) = hold_status else {
                problems
                    .hard
                    .push(format!("booking {id}: hold {hold_id} unread"));
                continue;
            };
            if let Some(hold) = statuses.get(&hold_id)
                && (hold.room_type_id.to_string() != booking["room_type_id"].as_str().unwrap_or("")
                    || hold.stay.check_in().to_string()
                        != booking["stay"]["check_in"].as_str().unwrap_or("")
                    || hold.stay.check_out().to_string()
                        != booking["stay"]["check_out"].as_str().unwrap_or(""))
            {
                problems
                    .hard
                    .push(format!("booking {id} and its hold {hold:?} disagree"));
            }
            match (status, hold_status) {
                ("pending_payment", HoldStatus::Held)
                | ("confirmed", HoldStatus::Confirmed)
                | ("cancelled", HoldStatus::Released | HoldStatus::Expired)
                | ("expired", HoldStatus::Expired) => {}
                // The catalog expired the hold; the booking follows when its consumer runs.
                ("pending_payment", HoldStatus::Expired) => problems.settling.push((
                    "pending booking, hold expired",
                    format!("booking {id} pending_payment but its hold expired"),
                )),
                // The cancellation gives the hold back, and the `hold_releases` consumer again
                // if that failed.
                ("cancelled", HoldStatus::Held | HoldStatus::Confirmed) => {
                    problems.settling.push((
                        "cancelled booking, hold active",
                        format!("booking {id} cancelled but its hold is {hold_status:?}"),
                    ));
                }
                (status, hold_status) => problems.hard.push(format!(
                    "booking {id} is {status} but its hold {hold_id} is {hold_status:?}"
                )),
            }
            if matches!(status, "pending_payment" | "confirmed") {
                current.insert(hold_id);
            }
        }
        for (id, hold) in &statuses {
            if matches!(hold.status, HoldStatus::Held | HoldStatus::Confirmed)
                && !current.contains(id)
            {
                problems.settling.push((
                    "active hold of no live booking",
                    format!("hold {id} is {:?} but backs no live booking", hold.status),
                ));
            }
        }
        problems
    }

    /// Checks until nothing is settling (or a hard problem shows); how long it took. Counts
    /// the settling problems seen by kind in `seen`.
    async fn check_settled(
        &self,
        acknowledged: &[Acknowledged],
        holds: &mut Holds,
        step: usize,
        seen: &mut BTreeMap<&'static str, usize>,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let problems = self.check(acknowledged, holds).await;
            for (kind, _) in &problems.settling {
                *seen.entry(kind).or_default() += 1;
            }
            assert!(
                problems.hard.is_empty(),
                "[{:?}] step {step}: {:#?}",
                self.node.backend,
                problems.hard
            );
            if problems.settling.is_empty() {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "[{:?}] step {step}: still after 10 s: {:#?}",
                self.node.backend,
                problems.settling
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn a_storm_never_oversells_or_loses_a_booking(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(node) = TestNode::start(
        backend,
        &[
            ("booking.hold_ttl_seconds", json!(STORM_HOLD_TTL_SECONDS)),
            ("catalog.hold_sweep_interval_ms", json!(50)),
            ("events.poll_interval_ms", json!(20)),
        ],
    )
    .await
    else {
        return;
    };
    let node = Arc::new(node);
    let guests = node.guests(STORM_GUESTS).await;
    let hotel = node.hotel("Casa Tempestade").await;
    let mut room_types = Vec::new();
    for (i, name) in ["Single", "Double", "Suite"]
        .iter()
        .enumerate()
        .take(STORM_ROOM_TYPES)
    {
        room_types.push(
            node.room_type(
                &hotel,
                name,
                10_000 + 2_000 * i64::try_from(i).expect("small"),
                2,
            )
            .await,
        );
    }
    let (consumer, db) = node.payment_consumer().await;
    let payments = Dispatcher::new(
        consumer,
        db,
        ConsumerSettings {
            backoff: Duration::from_millis(10),
            ..ConsumerSettings::default()
        },
    );
    let storm = Storm {
        node: node.clone(),
        guests,
        hotel,
        room_types,
        payments,
    };
    // A fixed seed; `INNKEEPER_STORM_SEED` tries another.
    let seed = std::env::var("INNKEEPER_STORM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5707_2026_u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut acknowledged: Vec<Acknowledged> = Vec::new();
    let mut holds = Holds::default();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexpected: Vec<String> = Vec::new();
    let (mut settle_total, mut settle_max) = (Duration::ZERO, Duration::ZERO);
    let mut settling: BTreeMap<&'static str, usize> = BTreeMap::new();
    let started = Instant::now();
    for step in 0..STORM_STEPS {
        if rng.random_range(0..100) < EXPIRY_WAIT_PERCENT {
            // Let the unpaid holds lapse.
            tokio::time::sleep(Duration::from_millis(
                u64::from(STORM_HOLD_TTL_SECONDS) * 1000 + 200,
            ))
            .await;
            *outcomes.entry("expiry wait".to_owned()).or_default() += 1;
        } else {
            let mut ops = Vec::new();
            for _ in 0..rng.random_range(1..=4) {
                // Mostly the latest bookings (still alive, so changes, payments and
                // cancellations collide), sometimes any (mostly over by then).
                let n = acknowledged.len();
                let target = (n > 0).then(|| {
                    if rng.random_range(0..10) < 7 {
                        rng.random_range(n.saturating_sub(8)..n)
                    } else {
                        rng.random_range(0..n)
                    }
                });
                let op = match (rng.random_range(0..100), target) {
                    (0..45, _) | (_, None) => Op::Create {
                        guest: rng.random_range(0..STORM_GUESTS),
                        room_type: rng.random_range(0..STORM_ROOM_TYPES),
                        stay: storm.stay(&mut rng),
                    },
                    (45..70, Some(booking)) => Op::Modify {
                        booking,
                        stale: rng.random_range(0..5) == 0,
                        room_type: (rng.random_range(0..3) == 0)
                            .then(|| rng.random_range(0..STORM_ROOM_TYPES)),
                        stay: storm.stay(&mut rng),
                    },
                    (70..82, Some(booking)) => Op::Cancel { booking },
                    (_, Some(booking)) => Op::Pay { booking },
                };
                ops.push(op);
            }
            let results = join_all(ops.into_iter().map(|op| storm.run(op, &acknowledged))).await;
            for done in results {
                if let Some(what) = done.unexpected {
                    unexpected.push(format!("step {step}: {}: {what}", done.label));
                }
                for booking in done.created.iter().chain(done.changed.iter()) {
                    holds
                        .seen
                        .insert(booking["hold_id"].as_str().expect("hold").to_owned());
                }
                if let (Some(created), Some(guest)) = (done.created, done.guest) {
                    let id = created["id"].as_str().expect("id").to_owned();
                    acknowledged.push(Acknowledged { id, guest });
                }
                *outcomes.entry(done.label).or_default() += 1;
            }
        }
        assert!(unexpected.is_empty(), "[{backend:?}] {unexpected:#?}");
        let settled = storm
            .check_settled(&acknowledged, &mut holds, step, &mut settling)
            .await;
        settle_total += settled;
        settle_max = settle_max.max(settled);
    }
    // Let the last holds lapse, then every acknowledged booking is there, each by its own GET.
    tokio::time::sleep(Duration::from_millis(
        u64::from(STORM_HOLD_TTL_SECONDS) * 1000 + 500,
    ))
    .await;
    storm
        .check_settled(&acknowledged, &mut holds, STORM_STEPS, &mut settling)
        .await;
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for booking in &acknowledged {
        let reply = node
            .get(
                &format!("/api/v1/bookings/{}", booking.id),
                &storm.guests[booking.guest],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        *statuses
            .entry(reply.body["status"].as_str().expect("status").to_owned())
            .or_default() += 1;
    }
    eprintln!(
        "[{backend:?}] storm (seed {seed}): {STORM_STEPS} steps in {:.1?} (invariant checks, with waits for \
         the consumers to catch up: {settle_total:.1?} in all, at most {settle_max:.1?} once; \
         transient states seen \
         {settling:?}); {} bookings ended {statuses:?}; {} holds seen; answers {outcomes:?}",
        started.elapsed(),
        acknowledged.len(),
        holds.seen.len()
    );
    for needed in ["confirmed", "cancelled", "expired"] {
        assert!(
            statuses.contains_key(needed),
            "no booking ended {needed}: {statuses:?}"
        );
    }
    assert!(outcomes.contains_key("create 409 sold_out"), "{outcomes:?}");
    assert!(outcomes.contains_key("modify 200"), "{outcomes:?}");
    drop(storm);
    Arc::into_inner(node).expect("one owner").stop().await;
}

// ---------------------------------------------------------------------------------------------
// Every node test on both backends
// ---------------------------------------------------------------------------------------------

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    the_last_room_sells_exactly_once,
    a_storm_never_oversells_or_loses_a_booking,
    one_key_sent_at_once_books_once,
    two_changes_with_one_etag_one_wins,
);

// ---------------------------------------------------------------------------------------------
// A gap the storm's invariant would catch: the hold lapses while the booking is recorded
// ---------------------------------------------------------------------------------------------

mod late_record {
    //! The services wired as in an embedded node (catalog relay on the bus, the booking's
    //! `hold_expiries` consumer subscribed to it), with a catalog whose `place_hold` answers
    //! only after the hold's TTL has passed and the sweeper has expired it: the booking's
    //! record step was slower than the TTL (a stalled database, a paused process).

    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use innkeeper_booking::BookingSettings;
    use innkeeper_booking::api::{BookingApi as _, BookingStatus, NewBooking};
    use innkeeper_booking::module::BookingModule;
    use innkeeper_catalog::api::*;
    use innkeeper_catalog::module::CatalogModule;
    use innkeeper_catalog::{CatalogService, CatalogSettings};
    use innkeeper_events::{Bus, Consumer, ConsumerSettings, Relay, RelaySettings};
    use innkeeper_kernel::{
        Currency, GeoPoint, HoldId, HotelId, ManualClock, Page, Principal, Result, Role, RoomId,
        RoomTypeId, StayDates, UserId,
    };
    use innkeeper_platform::testing::TestDatabase;
    use time::Date;
    use time::macros::datetime;
    use tokio_util::sync::CancellationToken;

    /// The real catalog, except that, once `lapse` is set, a hold is returned only once it
    /// has lapsed.
    struct LapsingHolds {
        inner: Arc<CatalogService>,
        clock: ManualClock,
        lapse: Arc<AtomicBool>,
    }

    #[async_trait::async_trait]
    impl CatalogApi for LapsingHolds {
        async fn create_hotel(&self, caller: &Principal, hotel: NewHotel) -> Result<Hotel> {
            self.inner.create_hotel(caller, hotel).await
        }
        async fn get_hotel(&self, id: HotelId) -> Result<HotelDetails> {
            self.inner.get_hotel(id).await
        }
        async fn update_hotel(
            &self,
            caller: &Principal,
            id: HotelId,
            if_match: i64,
            patch: HotelPatch,
        ) -> Result<Hotel> {
            self.inner.update_hotel(caller, id, if_match, patch).await
        }
        async fn list_hotels(&self, query: HotelQuery) -> Result<Page<HotelSummary>> {
            self.inner.list_hotels(query).await
        }
        async fn create_room_type(
            &self,
            caller: &Principal,
            hotel_id: HotelId,
            room_type: NewRoomType,
        ) -> Result<RoomType> {
            self.inner
                .create_room_type(caller, hotel_id, room_type)
                .await
        }
        async fn update_room_type(
            &self,
            caller: &Principal,
            hotel_id: HotelId,
            id: RoomTypeId,
            if_match: i64,
            patch: RoomTypePatch,
        ) -> Result<RoomType> {
            self.inner
                .update_room_type(caller, hotel_id, id, if_match, patch)
                .await
        }
        async fn create_room(
            &self,
            caller: &Principal,
            hotel_id: HotelId,
            room: NewRoom,
        ) -> Result<Room> {
            self.inner.create_room(caller, hotel_id, room).await
        }
        async fn update_room(
            &self,
            caller: &Principal,
            hotel_id: HotelId,
            id: RoomId,
            if_match: i64,
            patch: RoomPatch,
        ) -> Result<Room> {
            self.inner
                .update_room(caller, hotel_id, id, if_match, patch)
                .await
        }
        async fn list_rooms(&self, caller: &Principal, hotel_id: HotelId) -> Result<Vec<Room>> {
            self.inner.list_rooms(caller, hotel_id).await
        }
        async fn set_rate(
            &self,
            caller: &Principal,
            hotel_id: HotelId,
            room_type_id: RoomTypeId,
            rate: SetRate,
        ) -> Result<NightsChanged> {
            self.inner
                .set_rate(caller, hotel_id, room_type_id, rate)
                .await
        }
        async fn set_inventory(
            &self,
            caller: &Principal,
            hotel_id: HotelId,
            room_type_id: RoomTypeId,
            inventory: SetInventory,
        ) -> Result<NightsChanged> {
            self.inner
                .set_inventory(caller, hotel_id, room_type_id, inventory)
                .await
        }
        async fn get_inventory(
            &self,
            caller: &Principal,
            hotel_id: HotelId,
            from: Date,
            to: Date,
        ) -> Result<Vec<InventoryNight>> {
            self.inner.get_inventory(caller, hotel_id, from, to).await
        }
        async fn search_availability(&self, query: AvailabilityQuery) -> Result<Vec<Offer>> {
            self.inner.search_availability(query).await
        }
        async fn hotel_availability(&self, query: HotelAvailabilityQuery) -> Result<Vec<Offer>> {
            self.inner.hotel_availability(query).await
        }
        async fn quote(
            &self,
            room_type_id: RoomTypeId,
            stay: StayDates,
            rooms: u32,
        ) -> Result<Quote> {
            self.inner.quote(room_type_id, stay, rooms).await
        }
        async fn place_hold(&self, hold: PlaceHold) -> Result<Hold> {
            let ttl = i64::from(hold.ttl_seconds);
            let placed = self.inner.place_hold(hold).await?;
            if !self.lapse.load(Ordering::SeqCst) {
                return Ok(placed);
            }
            // The caller is slow: the TTL passes, the sweeper expires the hold, and its event
            // reaches the booking consumers before the booking is recorded.
            self.clock.advance(time::Duration::seconds(ttl + 1));
            let expired = self.inner.expire_due_holds(100).await?;
            assert_eq!(expired.len(), 1, "the hold lapsed");
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(placed)
        }
        async fn confirm_hold(&self, id: HoldId) -> Result<Hold> {
            self.inner.confirm_hold(id).await
        }
        async fn release_hold(&self, id: HoldId) -> Result<Hold> {
            self.inner.release_hold(id).await
        }
        async fn get_hold(&self, id: HoldId) -> Result<Hold> {
            self.inner.get_hold(id).await
        }
    }

    /// The booking is recorded `pending_payment` after its hold expired; the expiry consumer
    /// found no booking for the hold and ignored the event, so create itself must look at the
    /// hold again and record `expired` (`create::expire_if_hold_lapsed`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_booking_recorded_after_its_hold_lapsed_still_expires() {
        let (catalog_db, booking_db) = (TestDatabase::sqlite().await, TestDatabase::sqlite().await);
        let clock = ManualClock::new(datetime!(2026-11-22 10:00 UTC));
        let catalog = CatalogModule::open(
            &catalog_db.db,
            Arc::new(clock.clone()),
            CatalogSettings::default(),
        )
        .await
        .expect("catalog")
        .service;
        let stop = CancellationToken::new();
        let bus = Bus::new(catalog_db.db.clone());
        let relay = Relay::to_bus(bus.clone(), RelaySettings::default());
        let relaying = tokio::spawn(relay.run(stop.clone()));
        let lapse = Arc::new(AtomicBool::new(false));
        let lapsing = LapsingHolds {
            inner: catalog.clone(),
            clock: clock.clone(),
            lapse: lapse.clone(),
        };
        let module = BookingModule::start(
            &booking_db.db,
            CatalogClient::new(Arc::new(lapsing)),
            None,
            Arc::new(clock.clone()),
            BookingSettings::default(),
        )
        .await
        .expect("bookings");
        let expiries: Arc<dyn Consumer> = module.hold_expiries.clone();
        let consuming = bus
            .subscribe(expiries, booking_db.db.clone(), ConsumerSettings::default())
            .await
            .expect("subscribe")
            .run(stop.clone());
        let consuming = tokio::spawn(consuming);

        let owner = Principal {
            user_id: UserId::new(),
            role: Role::Hotelier,
        };
        let hotel = catalog
            .create_hotel(
                &owner,
                NewHotel {
                    name: "Casa Lenta".to_owned(),
                    description: String::new(),
                    address: "Rua Augusta 1".to_owned(),
                    city: "Lisbon".to_owned(),
                    country: "PT".to_owned(),
                    location: GeoPoint {
                        lat: 38.7223,
                        lon: -9.1393,
                    },
                    stars: Some(4),
                    currency: Currency::EUR,
                    timezone: "Europe/Lisbon".to_owned(),
                },
            )
            .await
            .expect("hotel");
        let room_type = catalog
            .create_room_type(
                &owner,
                hotel.id,
                NewRoomType {
                    name: "Double".to_owned(),
                    description: String::new(),
                    capacity: 2,
                    beds: Vec::new(),
                    amenities: Vec::new(),
                    base_price: innkeeper_kernel::Money {
                        amount: 10_000,
                        currency: Currency::EUR,
                    },
                },
            )
            .await
            .expect("room type");
        catalog
            .create_room(
                &owner,
                hotel.id,
                NewRoom {
                    number: "101".to_owned(),
                    floor: 1,
                    room_type_id: room_type.id,
                    status: RoomStatus::Ready,
                },
            )
            .await
            .expect("room");

        let guest = Principal {
            user_id: UserId::new(),
            role: Role::Guest,
        };
        let request = NewBooking {
            hotel_id: hotel.id,
            room_type_id: room_type.id,
            check_in: time::macros::date!(2026 - 12 - 10),
            check_out: time::macros::date!(2026 - 12 - 12),
            guests: 1,
            rooms: None,
            guest_name: "Ana Lima".to_owned(),
            guest_email: None,
            special_requests: None,
        };
        let expired_within_5s = |id| {
            let (bookings, guest) = (module.service.clone(), guest);
            async move {
                let deadline = std::time::Instant::now() + Duration::from_secs(5);
                loop {
                    let now = bookings.get(&guest, id).await.expect("booking");
                    if now.status == BookingStatus::Expired {
                        return Ok(());
                    }
                    if std::time::Instant::now() > deadline {
                        return Err(now);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };

        // The wiring works: a booking recorded in time expires when its hold lapses.
        let timely = module
            .service
            .create(&guest, request.clone(), None)
            .await
            .result
            .expect("booked");
        clock.advance(time::Duration::seconds(
            i64::from(BookingSettings::default().hold_ttl_seconds) + 1,
        ));
        assert_eq!(catalog.expire_due_holds(100).await.expect("sweep").len(), 1);
        if let Err(now) = expired_within_5s(timely.id).await {
            panic!("the control booking never expired: {now:?}");
        }

        // Recorded after its hold lapsed: nothing ever expires it.
        lapse.store(true, Ordering::SeqCst);
        let booked = module.service.create(&guest, request, None).await.result;
        // Either refusing the booking or expiring it later would be consistent.
        if let Ok(booked) = booked {
            let hold = catalog.get_hold(booked.hold_id).await.expect("hold");
            assert_eq!(hold.status, HoldStatus::Expired);
            if let Err(now) = expired_within_5s(booked.id).await {
                panic!(
                    "booking {} is still {} 5 s after its hold {} expired",
                    now.id, now.status, hold.id
                );
            }
        }
        stop.cancel();
        relaying.await.expect("join").expect("relay");
        consuming.await.expect("join").expect("consumer");
    }
}
