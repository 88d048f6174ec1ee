//! Hold throughput under contention on PostgreSQL, through the real `PgCatalogStore`.
//!
//! `TASKS` tasks, each with its own pooled connection, loop for `SECONDS`: place a hold of one
//! room on one of `ROOM_TYPES` hot room types for 1-3 nights starting within the first 28
//! nights, then release it. Prints cycles/s (one cycle = one hold placed and released) and
//! p50/p99 of place, release and the whole cycle. `bench/holds.sh` runs it beside pgbench
//! issuing the same SQL (`bench/holds.pgbench.sql`).
//!
//! ```text
//! cargo run --release -p innkeeper-catalog --example hold_bench -- \
//!     postgres://postgres@127.0.0.1:5432/innkeeper_holdbench 64 20 4
//! ```
//!
//! The database must be empty (the example migrates it and creates its hotel); room type `k`
//! (1-based) has the id `00000000-0000-0000-0000-00000000000k` so the pgbench script can name
//! it. Each night has an allotment of 1,000 rooms, so no hold is refused: the contention is
//! on the nights' row locks, not on the last room.

use std::sync::Arc;
use std::time::{Duration, Instant};

use innkeeper_catalog::api::{Bed, BedKind, Hotel, RoomType};
use innkeeper_catalog::store::{CatalogStore, NewHold, postgres_store};
use innkeeper_kernel::{Currency, GeoPoint, HoldId, HotelId, Money, RoomTypeId, UserId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgPoolOptions;
use time::OffsetDateTime;

/// Nights a stay may start on, from tomorrow (`\set n random(1, 28)` in the pgbench script).
const START_NIGHTS: i64 = 28;
/// Longest stay in nights (`\set len random(1, 3)`).
const MAX_LEN: i64 = 3;
/// Rooms per night, enough for every task at once.
const ALLOTMENT: u32 = 1_000;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

#[derive(Default)]
struct Samples {
    place: Vec<u32>,
    release: Vec<u32>,
    cycle: Vec<u32>,
    failed: u64,
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

async fn seed(store: &Arc<dyn CatalogStore>, room_types: u32) -> anyhow::Result<Vec<RoomTypeId>> {
    let now = OffsetDateTime::now_utc();
    let hotel = Hotel {
        id: HotelId::new(),
        owner_id: UserId::new(),
        name: "Hold Bench Hotel".to_owned(),
        description: "The hot hotel of the hold benchmark".to_owned(),
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
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store.insert_hotel(&hotel).await?;
    let today = now.date();
    let mut ids = Vec::new();
    for k in 1..=room_types {
        let id = RoomTypeId::from(uuid::Uuid::from_u128(u128::from(k)));
        let room_type = RoomType {
            id,
            hotel_id: hotel.id,
            name: format!("Hot Double {k}"),
            description: "Everybody wants this one".to_owned(),
            capacity: 2,
            beds: vec![Bed {
                kind: BedKind::Double,
                count: 1,
            }],
            amenities: vec!["wifi".to_owned()],
            base_price: Money {
                amount: 12_900,
                currency: Currency::EUR,
            },
            active_rooms: 0,
            version: 1,
        };
        store.insert_room_type(&room_type).await?;
        store
            .set_inventory(
                id,
                today,
                today + time::Duration::days(START_NIGHTS + MAX_LEN + 1),
                ALLOTMENT,
            )
            .await?;
        ids.push(id);
    }
    Ok(ids)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/innkeeper_holdbench".to_owned());
    let tasks: u32 = arg(&args, 2, 64);
    let seconds: u64 = arg(&args, 3, 20);
    let room_types: u32 = arg(&args, 4, 4);

    let pool = PgPoolOptions::new()
        .max_connections(tasks)
        .min_connections(tasks)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&url)
        .await?;
    let store = postgres_store(pool);
    store.migrate().await?;
    let ids = Arc::new(seed(&store, room_types).await?);

    let warmup = Duration::from_secs(2);
    let started = Instant::now();
    let measure_from = started + warmup;
    let until = measure_from + Duration::from_secs(seconds);
    let today = OffsetDateTime::now_utc().date();
    let workers: Vec<_> = (0..tasks)
        .map(|t| {
            let (store, ids) = (store.clone(), ids.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(u64::from(t) + 1);
                let mut samples = Samples::default();
                loop {
                    let begin = Instant::now();
                    if begin >= until {
                        return samples;
                    }
                    let room_type_id = ids[rng.random_range(0..ids.len())];
                    let check_in = today + time::Duration::days(rng.random_range(1..=START_NIGHTS));
                    let check_out = check_in + time::Duration::days(rng.random_range(1..=MAX_LEN));
                    let now = OffsetDateTime::now_utc();
                    let hold = NewHold {
                        id: HoldId::new(),
                        room_type_id,
                        check_in,
                        check_out,
                        quantity: 1,
                        expires_at: now + time::Duration::minutes(15),
                        now,
                    };
                    let placed = store.place_hold(&hold).await;
                    let after_place = Instant::now();
                    let released = match placed {
                        Ok(_) => store.release_hold(hold.id, OffsetDateTime::now_utc()).await,
                        Err(err) => Err(err),
                    };
                    let end = Instant::now();
                    if begin < measure_from {
                        continue;
                    }
                    if released.is_err() {
                        samples.failed += 1;
                        continue;
                    }
                    samples.place.push(micros(after_place - begin));
                    samples.release.push(micros(end - after_place));
                    samples.cycle.push(micros(end - begin));
                }
            })
        })
        .collect();
    let mut all = Samples::default();
    for worker in workers {
        let s = worker.await?;
        all.place.extend(s.place);
        all.release.extend(s.release);
        all.cycle.extend(s.cycle);
        all.failed += s.failed;
    }
    for v in [&mut all.place, &mut all.release, &mut all.cycle] {
        v.sort_unstable();
    }
    let cycles = all.cycle.len() as f64;
    println!(
        "store: tasks={tasks} room_types={room_types} seconds={seconds} cycles={} failed={} \
         holds/s={:.0}",
        all.cycle.len(),
        all.failed,
        cycles / seconds as f64
    );
    for (name, v) in [
        ("place", &all.place),
        ("release", &all.release),
        ("cycle", &all.cycle),
    ] {
        println!(
            "store: {name:<8} p50={:.2} ms p99={:.2} ms",
            percentile(v, 0.50),
            percentile(v, 0.99)
        );
    }
    Ok(())
}
