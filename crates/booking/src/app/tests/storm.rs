//! A storm: random creates, modifications, cancellations, payments and expiries by many guests
//! over three rooms, several at once, with the invariants checked after every step:
//! - the catalog's counters are exactly what the bookings imply: `held` = the rooms of
//!   unpaid bookings, `sold` = the rooms of paid ones, on every night (so never
//!   `held + sold > total`, no booking without its hold, no hold without its booking);
//! - every acknowledged booking is stored, its projection equals its rebuilt event stream,
//!   and its hold is in the state its status needs;
//! - no request failed with a server error.

use std::collections::HashMap;

use rand::{Rng as _, SeedableRng as _};

use super::*;

/// Days of the window stays fall in, from [`CHECK_IN`].
const WINDOW: i64 = 8;

fn stay_in_window(rng: &mut impl rand::Rng) -> (time::Date, time::Date) {
    let from = rng.random_range(0..WINDOW - 1);
    let nights = rng.random_range(1..=3).min(WINDOW - from);
    (
        CHECK_IN + Duration::days(from),
        CHECK_IN + Duration::days(from + nights),
    )
}

/// Errors a step may meet under contention: anything else is a bug.
fn expected(err: &innkeeper_kernel::Error) -> bool {
    matches!(
        err.code,
        ErrorCode::SoldOut
            | ErrorCode::InvalidState
            | ErrorCode::VersionMismatch
            | ErrorCode::Conflict
            | ErrorCode::ValidationFailed
    )
}

/// What one step does.
#[derive(Debug, Clone, Copy)]
enum Step {
    Create,
    Modify,
    Cancel,
    Pay,
    Tick,
}

/// Runs events written since the last call through `dispatcher`.
async fn follow(dispatcher: &Dispatcher, db: &innkeeper_platform::db::Database, seen: &mut usize) {
    let events = outbox_events(db).await;
    for event in &events[*seen..] {
        let delivered = dispatcher.deliver(event).await.expect("deliver");
        assert_ne!(delivered, Delivery::DeadLettered, "{}", event.event_type);
    }
    *seen = events.len();
}

async fn check_invariants(world: &World, acknowledged: &[(Principal, BookingId)]) {
    let admin = principal(Role::Admin);
    let mut held: HashMap<time::Date, u32> = HashMap::new();
    let mut sold: HashMap<time::Date, u32> = HashMap::new();
    for (_, id) in acknowledged {
        let booking = world
            .bookings
            .get(&admin, *id)
            .await
            .expect("every acknowledged booking is stored");
        let hold = world
            .catalog
            .get_hold(booking.hold_id)
            .await
            .expect("its hold");
        let wanted: &[HoldStatus] = match booking.status {
            BookingStatus::PendingPayment => &[HoldStatus::Held],
            BookingStatus::Confirmed | BookingStatus::CheckedIn => &[HoldStatus::Confirmed],
            _ => &[HoldStatus::Released, HoldStatus::Expired],
        };
        assert!(
            wanted.contains(&hold.status),
            "booking {} is {} but its hold is {:?}",
            booking.id,
            booking.status,
            hold.status
        );
        assert_eq!(
            (hold.stay, hold.room_type_id),
            (booking.stay, booking.room_type_id)
        );
        let counter = match hold.status {
            HoldStatus::Held => &mut held,
            HoldStatus::Confirmed => &mut sold,
            _ => continue,
        };
        for night in booking.stay.nights() {
            *counter.entry(night).or_default() += booking.rooms;
        }
    }
    let nights = world
        .catalog
        .get_inventory(
            &world.owner,
            world.hotel_id,
            CHECK_IN,
            CHECK_IN + Duration::days(WINDOW),
        )
        .await
        .expect("inventory");
    for n in nights
        .iter()
        .filter(|n| n.room_type_id == world.room_type_id)
    {
        assert!(n.held + n.sold <= n.total, "{n:?}");
        let implied = (
            held.get(&n.night).copied().unwrap_or(0),
            sold.get(&n.night).copied().unwrap_or(0),
        );
        assert_eq!(
            (n.held, n.sold),
            implied,
            "night {}: counters vs bookings",
            n.night
        );
    }
}

pub(super) async fn a_storm_keeps_counters_and_bookings_in_step(world: World) {
    let world = Arc::new(world);
    let guests: Vec<Principal> = (0..8).map(|_| guest()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5707);
    let mut acknowledged: Vec<(Principal, BookingId)> = Vec::new();
    let expiries = world.dispatcher_of(world.hold_expiries.clone());
    let releases = world.dispatcher_of(world.hold_releases.clone());
    let (mut catalog_seen, mut booking_seen) = (0, 0);
    let mut outcomes: HashMap<&'static str, u32> = HashMap::new();
    for _ in 0..100 {
        let mut batch = Vec::new();
        for _ in 0..rng.random_range(1..=6) {
            let step = match rng.random_range(0..10) {
                0..=3 => Step::Create,
                4..=5 => Step::Modify,
                6 => Step::Cancel,
                7..=8 => Step::Pay,
                _ => Step::Tick,
            };
            let target = (!acknowledged.is_empty())
                .then(|| acknowledged[rng.random_range(0..acknowledged.len())]);
            let who = guests[rng.random_range(0..guests.len())];
            let (check_in, check_out) = stay_in_window(&mut rng);
            let minutes = rng.random_range(1..=20);
            let world = world.clone();
            batch.push(tokio::spawn(async move {
                let result: Result<Option<Booking>, innkeeper_kernel::Error> = match (step, target)
                {
                    (Step::Create, _) | (_, None) => {
                        let request = NewBooking {
                            check_in,
                            check_out,
                            ..world.request()
                        };
                        world
                            .bookings
                            .create(&who, request, None)
                            .await
                            .result
                            .map(Some)
                    }
                    (Step::Modify, Some((owner, id))) => {
                        let version = world.bookings.get(&owner, id).await.map(|b| b.version);
                        let patch = BookingPatch {
                            check_in: Some(check_in),
                            check_out: Some(check_out),
                            ..BookingPatch::default()
                        };
                        match version {
                            Ok(v) => world
                                .bookings
                                .modify(&owner, id, Some(v), patch, None)
                                .await
                                .result
                                .map(|_| None),
                            Err(e) => Err(e),
                        }
                    }
                    (Step::Cancel, Some((owner, id))) => world
                        .bookings
                        .cancel(&owner, id, None, None, None)
                        .await
                        .result
                        .map(|_| None),
                    (Step::Pay, Some((_, id))) => {
                        let delivered = world
                            .dispatcher()
                            .deliver(&payment_succeeded(id, 25_800))
                            .await
                            .expect("payment");
                        assert_ne!(delivered, Delivery::DeadLettered);
                        Ok(None)
                    }
                    (Step::Tick, Some(_)) => {
                        world.clock.advance(Duration::minutes(minutes));
                        world.catalog.expire_due_holds(100).await.map(|_| None)
                    }
                };
                (step, who, result)
            }));
        }
        for task in batch {
            let (step, who, result) = task.await.expect("task");
            let name = match (&result, step) {
                (Ok(Some(booking)), _) => {
                    acknowledged.push((who, booking.id));
                    "created"
                }
                (Ok(None), _) => "done",
                (Err(err), _) if expected(err) => err.code.as_str(),
                (Err(err), step) => panic!("{step:?} failed: {err:?}"),
            };
            *outcomes.entry(name).or_default() += 1;
        }
        // The consumers catch up, as the bus or Kafka would deliver.
        follow(&expiries, &world.catalog_db.db, &mut catalog_seen).await;
        follow(&releases, &world.booking_db.db, &mut booking_seen).await;
        check_invariants(&world, &acknowledged).await;
    }
    if std::env::var_os("TEST_LOG").is_some() {
        eprintln!(
            "storm outcomes: {outcomes:?}, bookings: {}",
            acknowledged.len()
        );
    }
    assert!(
        outcomes.get("created").copied().unwrap_or(0) >= 10,
        "{outcomes:?}"
    );
    assert!(
        outcomes.get("sold_out").copied().unwrap_or(0) > 0,
        "{outcomes:?}"
    );
}
