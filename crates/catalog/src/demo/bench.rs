//! The benchmark data set: many hotels over the demo cities, every night materialised.

use innkeeper_kernel::{Currency, Error, FieldError, GeoPoint, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration};

use super::data::CITIES;
use super::rates::{bench_rates, dates};
use super::rooms::{FloorPlan, new_room_type, price_model};
use super::templates::TEMPLATES;
use super::{HotelPlan, RoomPlan, RoomTypePlan};
use crate::api::{NewHotel, RoomStatus, SetInventory};

const BENCH_SEED: u64 = 0x014b_e4c8;
/// Most room types per benchmark hotel (keeps floors and door numbers in range).
pub(super) const MAX_ROOM_TYPES: usize = 50;
/// Longest benchmark horizon, nights.
pub(super) const MAX_NIGHTS: u32 = 3 * 366;
/// Nights per `set_inventory` call, below the catalog's limit on one range.
const INVENTORY_CHUNK: u32 = 365;

const ADJECTIVES: &[&str] = &[
    "Grand",
    "Royal",
    "Central",
    "Old Town",
    "Riverside",
    "Garden",
    "Park",
    "Harbour",
    "Station",
    "Cathedral",
    "Market",
    "Plaza",
];
const NOUNS: &[&str] = &[
    "Hotel",
    "Inn",
    "Suites",
    "Residence",
    "House",
    "Lodge",
    "Palace",
    "Rooms",
];
const STREETS: &[&str] = &[
    "Market Street",
    "Station Road",
    "Park Lane",
    "River Walk",
    "Harbour Street",
    "Castle Hill",
    "Garden Row",
    "Mill Lane",
];
/// Template order for benchmark hotels: the common types first.
const TEMPLATE_ORDER: &[usize] = &[2, 4, 0, 6, 8, 9, 7, 5, 1, 3, 10];

/// Checks the benchmark's size parameters.
pub(super) fn check(hotels: usize, room_types_per_hotel: usize, nights: u32) -> Result<()> {
    let mut problems = Vec::new();
    let mut add = |field: &str, message: String| {
        problems.push(FieldError {
            field: field.to_owned(),
            message,
        })
    };
    if !(1..=100_000).contains(&hotels) {
        add("hotels", "must be between 1 and 100000".to_owned());
    }
    if !(1..=MAX_ROOM_TYPES).contains(&room_types_per_hotel) {
        add(
            "room_types_per_hotel",
            format!("must be between 1 and {MAX_ROOM_TYPES}"),
        );
    }
    if nights > MAX_NIGHTS {
        add("nights", format!("must be at most {MAX_NIGHTS}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid_fields(problems))
    }
}

/// Every benchmark hotel, its room types, rooms, allotments and rates; the same for the same
/// arguments.
pub(super) fn bench_plan(
    today: Date,
    hotels: usize,
    room_types_per_hotel: usize,
    nights: u32,
) -> Result<Vec<HotelPlan>> {
    check(hotels, room_types_per_hotel, nights)?;
    let mut rng = StdRng::seed_from_u64(BENCH_SEED);
    let mut plans = Vec::with_capacity(hotels);
    for i in 0..hotels {
        let city = &CITIES[i % CITIES.len()];
        let currency = Currency::parse_field("currency", city.currency)?;
        let stars = rng.random_range(2..=5u8);
        let (lat, lon) = city.centre;
        let location = GeoPoint::new(
            "location",
            lat + rng.random_range(-0.03..0.03),
            lon + rng.random_range(-0.045..0.045),
        )?;
        let name = format!(
            "{} {} {} {:04}",
            ADJECTIVES[rng.random_range(0..ADJECTIVES.len())],
            NOUNS[rng.random_range(0..NOUNS.len())],
            city.name,
            i + 1
        );
        let hotel = NewHotel {
            description: format!(
                "A {stars}-star hotel in {}, part of the benchmark data set.",
                city.name
            ),
            address: format!(
                "{} {}, {}",
                STREETS[rng.random_range(0..STREETS.len())],
                rng.random_range(1..=200),
                city.name
            ),
            name,
            city: city.name.to_owned(),
            country: city.country.to_owned(),
            location,
            stars: Some(stars),
            currency,
            timezone: city.timezone.to_owned(),
        };
        let weekend_premium = 0.15;
        let mut floors = FloorPlan::new(10);
        let room_types = (0..room_types_per_hotel)
            .map(|k| {
                let template = &TEMPLATES[TEMPLATE_ORDER[k % TEMPLATE_ORDER.len()]];
                let model = price_model(&mut rng, city, currency, stars, template, weekend_premium);
                let mut room_type = new_room_type(&mut rng, template, stars, None, &model);
                if k >= TEMPLATE_ORDER.len() {
                    room_type.name = format!("{} {}", room_type.name, k / TEMPLATE_ORDER.len() + 1);
                }
                let count = rng.random_range(3..=8u32);
                let rooms: Vec<RoomPlan> = (0..count)
                    .map(|_| {
                        let (number, floor) = floors.next_room();
                        RoomPlan {
                            number,
                            floor,
                            status: RoomStatus::Ready,
                        }
                    })
                    .collect();
                RoomTypePlan {
                    room_type,
                    inventory: allotment(today, nights, count),
                    rates: bench_rates(&model, today, nights),
                    rooms,
                }
            })
            .collect();
        plans.push(HotelPlan { hotel, room_types });
    }
    Ok(plans)
}

/// `total` rooms on every night of `[today, today + nights)`, in ranges the catalog accepts.
fn allotment(today: Date, nights: u32, total: u32) -> Vec<SetInventory> {
    let days = dates(today, nights);
    days.chunks(INVENTORY_CHUNK as usize)
        .filter_map(|chunk| {
            let (first, last) = (chunk.first()?, chunk.last()?);
            Some(SetInventory {
                from: *first,
                to: last.checked_add(Duration::days(1))?,
                total,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn the_plan_has_the_asked_size_and_covers_every_night() {
        let today = date!(2026 - 11 - 22);
        let plans = bench_plan(today, 20, 5, 400).expect("valid sizes");
        assert_eq!(plans.len(), 20);
        assert!(plans.iter().all(|h| h.room_types.len() == 5));
        let first = &plans[0].room_types[0];
        let covered: i64 = first
            .inventory
            .iter()
            .map(|i| (i.to - i.from).whole_days())
            .sum();
        assert_eq!(covered, 400);
        assert_eq!(first.inventory[0].from, today);
        assert_eq!(first.inventory[0].total as usize, first.rooms.len());
        let cities: std::collections::HashSet<_> =
            plans.iter().map(|h| h.hotel.city.as_str()).collect();
        assert_eq!(cities.len(), CITIES.len());
        let names: Vec<_> = plans.iter().map(|h| h.hotel.name.clone()).collect();
        let again: Vec<_> = bench_plan(today, 20, 5, 400)
            .expect("valid")
            .into_iter()
            .map(|h| h.hotel.name)
            .collect();
        assert_eq!(names, again);
    }

    #[test]
    fn absurd_sizes_are_refused() {
        let err = bench_plan(date!(2026 - 11 - 22), 0, 51, 5000).expect_err("invalid");
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["hotels", "room_types_per_hotel", "nights"]);
    }
}
