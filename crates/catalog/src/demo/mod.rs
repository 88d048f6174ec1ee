//! Demo and benchmark data for the catalog, created through its public contract.
//!
//! [`seed_demo`] opens 28 invented hotels on real streets of eight European cities, with room
//! types, physical rooms and a year of seasonal prices, for `innkeeper up` and
//! `innkeeper seed`. [`seed_bench`] creates the (much larger, plainer) benchmark data set.
//!
//! Everything goes through [`CatalogClient`], so seeding works against a local or a remote
//! catalog and passes the same validation as a hotelier's requests. The data is planned first
//! from a fixed-seed RNG, then created with hotels in parallel: the result is the same for the
//! same `today` however the calls interleave.

mod bench;
mod data;
mod rates;
mod rooms;
mod templates;
#[cfg(test)]
mod tests;

use futures::{StreamExt, TryStreamExt, stream};
use innkeeper_kernel::{Currency, GeoPoint, Principal, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use time::{Date, Duration};

use crate::api::{
    CatalogClient, NewHotel, NewRoom, NewRoomType, RoomStatus, SetInventory, SetRate,
};

/// The cities the demo (and benchmark) hotels are in.
pub const DEMO_CITIES: &[&str] = &[
    "Lisbon",
    "Porto",
    "Barcelona",
    "Paris",
    "Amsterdam",
    "Berlin",
    "Rome",
    "Prague",
];

/// What a seeding run created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Hotels created.
    pub hotels: usize,
    /// Room types created, over all hotels.
    pub room_types: usize,
    /// Physical rooms created, over all hotels.
    pub rooms: usize,
    /// The cities the hotels are in.
    pub cities: Vec<String>,
}

/// Seed of the demo's RNG: the hotels' make-up never changes, only the dates of their rates.
const DEMO_SEED: u64 = 0x0144_4bee_9e72;
/// Nights of seasonal rates from today.
const DEMO_NIGHTS: u32 = 365;
/// Weeks from today with a weekend premium. Each weekend is one call per room type; after
/// this horizon prices follow the seasons only, which keeps seeding to a few thousand calls.
const WEEKEND_WEEKS: i64 = 16;
/// Hotels created at the same time.
const CONCURRENCY: usize = 8;

/// A hotel to create, with everything in it.
#[derive(Debug, Clone)]
struct HotelPlan {
    hotel: NewHotel,
    room_types: Vec<RoomTypePlan>,
}

/// A room type to create, its rooms, and the calls on its nights (in order).
#[derive(Debug, Clone)]
struct RoomTypePlan {
    room_type: NewRoomType,
    rooms: Vec<RoomPlan>,
    inventory: Vec<SetInventory>,
    rates: Vec<SetRate>,
}

/// A physical room to create.
#[derive(Debug, Clone, PartialEq)]
struct RoomPlan {
    number: String,
    floor: i32,
    status: RoomStatus,
}

/// Creates the demo hotels, owned by `owner`, with rates for the 12 months from `today`
/// (which must be the catalog's today: rates cannot start in the past).
///
/// Not idempotent: the caller seeds only an empty catalog.
pub async fn seed_demo(
    catalog: &CatalogClient,
    owner: &Principal,
    today: Date,
) -> Result<DemoSummary> {
    let plans = demo_plan(today)?;
    let summary = execute(catalog, owner, plans).await?;
    tracing::info!(
        hotels = summary.hotels,
        room_types = summary.room_types,
        rooms = summary.rooms,
        "demo data seeded"
    );
    Ok(summary)
}

/// Creates the benchmark data set: `hotels` hotels spread over [`DEMO_CITIES`], each with
/// `room_types_per_hotel` room types, a few rooms per type, an allotment materialised for every
/// one of the `nights` nights from `today`, and summer and festive rates.
pub async fn seed_bench(
    catalog: &CatalogClient,
    owner: &Principal,
    today: Date,
    hotels: usize,
    room_types_per_hotel: usize,
    nights: u32,
) -> Result<DemoSummary> {
    let plans = bench::bench_plan(today, hotels, room_types_per_hotel, nights)?;
    let summary = execute(catalog, owner, plans).await?;
    tracing::info!(
        hotels = summary.hotels,
        room_types = summary.room_types,
        rooms = summary.rooms,
        nights,
        "benchmark data seeded"
    );
    Ok(summary)
}

/// The demo hotels with their room types, rooms and rates.
fn demo_plan(today: Date) -> Result<Vec<HotelPlan>> {
    let mut rng = StdRng::seed_from_u64(DEMO_SEED);
    let weekends_until = today
        .checked_add(Duration::weeks(WEEKEND_WEEKS))
        .unwrap_or(today);
    data::HOTELS
        .iter()
        .map(|seed| {
            let city = &data::CITIES[seed.city];
            let currency = Currency::parse_field("currency", city.currency)?;
            let hotel = NewHotel {
                name: seed.name.to_owned(),
                description: seed.description.to_owned(),
                address: seed.address.to_owned(),
                city: city.name.to_owned(),
                country: city.country.to_owned(),
                location: GeoPoint::new("location", seed.location.0, seed.location.1)?,
                stars: Some(seed.stars),
                currency,
                timezone: city.timezone.to_owned(),
            };
            let room_types = rooms::room_types(&mut rng, city, currency, seed.stars, seed.view)
                .into_iter()
                .map(|(mut plan, model)| {
                    plan.rates = rates::demo_rates(&model, today, DEMO_NIGHTS, weekends_until);
                    plan
                })
                .collect();
            Ok(HotelPlan { hotel, room_types })
        })
        .collect()
}

/// What one hotel's creation added.
#[derive(Debug, Default, Clone, Copy)]
struct Created {
    hotels: usize,
    room_types: usize,
    rooms: usize,
}

/// Creates the planned hotels, [`CONCURRENCY`] at a time; stops at the first error.
async fn execute(
    catalog: &CatalogClient,
    owner: &Principal,
    plans: Vec<HotelPlan>,
) -> Result<DemoSummary> {
    let mut cities: Vec<String> = Vec::new();
    for plan in &plans {
        if !cities.contains(&plan.hotel.city) {
            cities.push(plan.hotel.city.clone());
        }
    }
    let created = stream::iter(
        plans
            .into_iter()
            .map(|plan| create_hotel(catalog, owner, plan)),
    )
    .buffer_unordered(CONCURRENCY)
    .try_fold(Created::default(), |acc, c| async move {
        Ok(Created {
            hotels: acc.hotels + c.hotels,
            room_types: acc.room_types + c.room_types,
            rooms: acc.rooms + c.rooms,
        })
    })
    .await?;
    Ok(DemoSummary {
        hotels: created.hotels,
        room_types: created.room_types,
        rooms: created.rooms,
        cities,
    })
}

/// Creates one hotel: room types, then their rooms (so the default allotment is right when
/// nights are first materialised), then allotments, then rates in plan order.
async fn create_hotel(
    catalog: &CatalogClient,
    owner: &Principal,
    plan: HotelPlan,
) -> Result<Created> {
    let hotel = catalog.create_hotel(owner, plan.hotel).await?;
    let mut created = Created {
        hotels: 1,
        ..Created::default()
    };
    for type_plan in plan.room_types {
        let room_type = catalog
            .create_room_type(owner, hotel.id, type_plan.room_type)
            .await?;
        created.room_types += 1;
        for room in type_plan.rooms {
            let new = NewRoom {
                number: room.number,
                floor: room.floor,
                room_type_id: room_type.id,
                status: room.status,
            };
            catalog.create_room(owner, hotel.id, new).await?;
            created.rooms += 1;
        }
        for inventory in type_plan.inventory {
            catalog
                .set_inventory(owner, hotel.id, room_type.id, inventory)
                .await?;
        }
        for rate in type_plan.rates {
            catalog
                .set_rate(owner, hotel.id, room_type.id, rate)
                .await?;
        }
    }
    Ok(created)
}
