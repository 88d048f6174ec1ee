//! PostgreSQL-specific checks of concurrency (lock order, SKIP LOCKED, the duplicate-id retry);
//! the behaviour every backend shares is in `store/contract.rs`.
//!
//! Multi-threaded runtimes: `TestDatabase`'s drop closes the pool from another thread, which
//! needs the test runtime's I/O driver to keep running.

use std::sync::{Arc, Mutex};

use innkeeper_kernel::{
    Currency, ErrorCode, GeoPoint, HoldId, HotelId, Money, RoomId, RoomTypeId, UserId,
};
use innkeeper_platform::testing::TestDatabase;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

use super::PgCatalogStore;
use crate::api::{Bed, BedKind, HoldStatus, Hotel, Room, RoomStatus, RoomType};
use crate::store::{CatalogStore, NewHold, SearchScope};

const NOW: OffsetDateTime = datetime!(2026-11-22 10:00 UTC);
const FIRST_NIGHT: Date = date!(2026 - 12 - 01);

async fn store() -> Option<(Arc<PgCatalogStore>, TestDatabase)> {
    let (store, database) = super::test_store().await?;
    Some((Arc::new(store), database))
}

/// A stored hotel with one room type of `rooms` ready rooms.
async fn hotel_with_rooms(store: &PgCatalogStore, rooms: u32) -> (Hotel, RoomType) {
    let hotel = Hotel {
        id: HotelId::new(),
        owner_id: UserId::new(),
        name: "Casa do Rio".into(),
        description: "By the river".into(),
        address: "Rua 1".into(),
        city: "Porto".into(),
        country: "PT".into(),
        location: GeoPoint {
            lat: 41.14,
            lon: -8.61,
        },
        stars: Some(4),
        currency: Currency::EUR,
        timezone: "Europe/Lisbon".into(),
        version: 1,
        created_at: NOW,
        updated_at: NOW,
    };
    store.insert_hotel(&hotel).await.expect("hotel");
    let room_type = RoomType {
        id: RoomTypeId::new(),
        hotel_id: hotel.id,
        name: "Double".into(),
        description: String::new(),
        capacity: 2,
        beds: vec![Bed {
            kind: BedKind::Double,
            count: 1,
        }],
        amenities: vec!["wifi".into()],
        base_price: Money {
            amount: 12_900,
            currency: Currency::EUR,
        },
        active_rooms: 0,
        version: 1,
    };
    store.insert_room_type(&room_type).await.expect("room type");
    for n in 0..rooms {
        let room = Room {
            id: RoomId::new(),
            hotel_id: hotel.id,
            room_type_id: room_type.id,
            number: format!("{}", 101 + n),
            floor: 1,
            status: RoomStatus::Ready,
            version: 1,
        };
        store.insert_room(&room).await.expect("room");
    }
    (hotel, room_type)
}

fn night(n: i64) -> Date {
    FIRST_NIGHT + Duration::days(n)
}

fn new_hold(
    room_type: &RoomType,
    check_in: Date,
    check_out: Date,
    quantity: u32,
    expires_at: OffsetDateTime,
) -> NewHold {
    NewHold {
        id: HoldId::new(),
        room_type_id: room_type.id,
        check_in,
        check_out,
        quantity,
        expires_at,
        now: NOW,
    }
}

/// `(total, held, sold)` of the materialised nights of `[from, to)`, by night.
async fn counters(
    store: &PgCatalogStore,
    hotel: &Hotel,
    from: Date,
    to: Date,
) -> Vec<(Date, (u32, u32, u32))> {
    let found = store
        .room_type_nights(&SearchScope::Hotel(hotel.id), 0, from, to)
        .await
        .expect("nights");
    found[0]
        .nights
        .iter()
        .map(|n| (n.night, (n.total, n.held, n.sold)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_twins_of_one_hold_take_the_rooms_once() {
    let Some((store, _db)) = store().await else {
        return;
    };
    let (hotel, room_type) = hotel_with_rooms(&store, 3).await;
    let hold = new_hold(
        &room_type,
        night(0),
        night(2),
        1,
        NOW + Duration::minutes(15),
    );
    let twins: Vec<_> = (0..16)
        .map(|_| {
            let (store, hold) = (store.clone(), hold.clone());
            tokio::spawn(async move { store.place_hold(&hold).await })
        })
        .collect();
    for twin in twins {
        let placed = twin.await.expect("task").expect("every twin gets the hold");
        assert_eq!((placed.id, placed.status), (hold.id, HoldStatus::Held));
    }
    assert_eq!(
        counters(&store, &hotel, night(0), night(2)).await,
        vec![(night(0), (3, 1, 0)), (night(1), (3, 1, 0))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_sweepers_expire_each_hold_once() {
    let Some((store, _db)) = store().await else {
        return;
    };
    let (hotel, room_type) = hotel_with_rooms(&store, 20).await;
    for i in 0..20 {
        let hold = new_hold(
            &room_type,
            night(i % 3),
            night(3),
            1,
            NOW + Duration::minutes(15),
        );
        store.place_hold(&hold).await.expect("hold");
    }
    let later = NOW + Duration::hours(1);
    let sweepers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut expired = 0;
                loop {
                    match store.expire_holds(later, 3).await.expect("sweep").len() {
                        0 => return expired,
                        n => expired += n,
                    }
                }
            })
        })
        .collect();
    let mut expired = 0;
    for sweeper in sweepers {
        expired += sweeper.await.expect("task");
    }
    assert_eq!(expired, 20, "each hold expired by exactly one sweeper");
    let nights = counters(&store, &hotel, night(0), night(3)).await;
    assert!(nights.iter().all(|(_, c)| *c == (20, 0, 0)), "{nights:?}");
}

/// One random operation of the storm; the errors a caller may legitimately get are `Ok`.
async fn storm_step(
    store: &PgCatalogStore,
    rng: &mut StdRng,
    hotel: &Hotel,
    room_type: &RoomType,
    holds: &Mutex<Vec<HoldId>>,
) -> innkeeper_kernel::Result<()> {
    let now = NOW + Duration::minutes(rng.random_range(0..25));
    let start = rng.random_range(0..7);
    let end = (start + rng.random_range(1..=3)).min(8);
    let known = || {
        let holds = holds.lock().expect("holds");
        if holds.is_empty() {
            None
        } else {
            Some(holds[rand::random_range(0..holds.len())])
        }
    };
    let result = match rng.random_range(0..100) {
        0..45 => {
            let expires_at = NOW + Duration::minutes(rng.random_range(1..=20));
            let hold = new_hold(
                room_type,
                night(start),
                night(end),
                rng.random_range(1..=2),
                expires_at,
            );
            let placed = store.place_hold(&hold).await;
            if placed.is_ok() {
                holds.lock().expect("holds").push(hold.id);
            }
            placed.map(drop)
        }
        45..65 => match known() {
            Some(id) => store.confirm_hold(id, now).await.map(drop),
            None => Ok(()),
        },
        65..80 => match known() {
            Some(id) => store.release_hold(id, now).await.map(drop),
            None => Ok(()),
        },
        80..85 => store.expire_holds(now, 5).await.map(drop),
        85..90 => store
            .set_rates(room_type.id, night(start), night(end), 15_000, None)
            .await
            .map(drop),
        90..95 => store
            .set_inventory(
                room_type.id,
                night(start),
                night(end),
                rng.random_range(2..=6),
            )
            .await
            .map(drop),
        _ => {
            let rooms = store.list_rooms(hotel.id).await?;
            let mut room = rooms[rng.random_range(0..rooms.len())].clone();
            let version = room.version;
            room.status = if room.status == RoomStatus::OutOfService {
                RoomStatus::Ready
            } else {
                RoomStatus::OutOfService
            };
            store.update_room(&room, version).await.map(drop)
        }
    };
    match result {
        Err(err)
            if matches!(
                err.code,
                ErrorCode::SoldOut
                    | ErrorCode::Conflict
                    | ErrorCode::InvalidState
                    | ErrorCode::VersionMismatch
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_storm_of_every_inventory_operation_keeps_counters_exact() {
    let Some((store, _db)) = store().await else {
        return;
    };
    let (hotel, room_type) = hotel_with_rooms(&store, 4).await;
    let holds = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..24u64)
        .map(|worker| {
            let (store, hotel, room_type, holds) = (
                store.clone(),
                hotel.clone(),
                room_type.clone(),
                holds.clone(),
            );
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(worker);
                for step in 0..60 {
                    if let Err(err) = storm_step(&store, &mut rng, &hotel, &room_type, &holds).await
                    {
                        panic!("worker {worker}, step {step}: {err:?}");
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }

    // Counters equal what the holds say, night by night.
    let ids = holds.lock().expect("holds").clone();
    assert!(ids.len() > 50, "the storm placed holds: {}", ids.len());
    let mut expected = [(0u32, 0u32); 8];
    for id in ids {
        let hold = store.get_hold(id).await.expect("get").expect("exists");
        for d in hold.stay.nights() {
            let slot =
                &mut expected[usize::try_from((d - FIRST_NIGHT).whole_days()).expect("in window")];
            match hold.status {
                HoldStatus::Held => slot.0 += hold.quantity,
                HoldStatus::Confirmed => slot.1 += hold.quantity,
                HoldStatus::Released | HoldStatus::Expired => {}
            }
        }
    }
    for (d, (total, held, sold)) in counters(&store, &hotel, night(0), night(8)).await {
        let i = usize::try_from((d - FIRST_NIGHT).whole_days()).expect("in window");
        assert_eq!((held, sold), expected[i], "night {d}");
        assert!(held + sold <= total, "night {d} oversold");
    }
}
