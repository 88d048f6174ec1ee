//! The demo seeded through a real catalog service on a fresh SQLite store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use innkeeper_kernel::{ManualClock, Principal, RoomTypeId, StayDates};
use innkeeper_platform::testing::TestDatabase;
use time::Date;
use time::macros::date;

use super::*;
use crate::api::{HotelQuery, HotelSummary};
use crate::{CatalogService, CatalogSettings};

const TODAY: Date = date!(2026 - 11 - 22);

async fn catalog(db: &TestDatabase, today: Date) -> CatalogClient {
    let store = crate::module::open_store(&db.db)
        .await
        .expect("migrated store");
    let clock = Arc::new(ManualClock::new(today.midnight().assume_utc()));
    CatalogClient::new(Arc::new(CatalogService::new(
        store,
        clock,
        CatalogSettings::default(),
    )))
}

async fn all_hotels(catalog: &CatalogClient) -> Vec<HotelSummary> {
    let mut hotels = Vec::new();
    let mut cursor = None;
    loop {
        let page = catalog
            .list_hotels(HotelQuery {
                limit: Some(100),
                cursor,
                ..HotelQuery::default()
            })
            .await
            .expect("list");
        hotels.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return hotels,
        }
    }
}

async fn night_price(catalog: &CatalogClient, room_type: RoomTypeId, night: Date) -> i64 {
    let stay = StayDates::from_stored(night, night.next_day().expect("date")).expect("stay");
    catalog
        .quote(room_type, stay, 1)
        .await
        .expect("quote")
        .total
        .amount
}

#[tokio::test]
async fn the_demo_looks_like_a_real_catalog() {
    let db = TestDatabase::sqlite().await;
    let catalog = catalog(&db, TODAY).await;
    let owner = Principal::DEVELOPMENT;
    let summary = seed_demo(&catalog, &owner, TODAY).await.expect("seeded");

    let hotels = all_hotels(&catalog).await;
    assert_eq!(hotels.len(), summary.hotels);
    assert!(hotels.len() >= 24, "{} hotels", hotels.len());
    let cities: BTreeSet<&str> = hotels.iter().map(|h| h.city.as_str()).collect();
    assert!(cities.len() >= 6, "{cities:?}");
    assert_eq!(cities, DEMO_CITIES.iter().copied().collect::<BTreeSet<_>>());
    assert_eq!(summary.cities.len(), DEMO_CITIES.len());

    let (mut room_types, mut rooms, mut not_ready) = (0, 0, 0);
    for summary_row in &hotels {
        let hotel = catalog.get_hotel(summary_row.id).await.expect("hotel");
        assert!(
            (3..=6).contains(&hotel.room_types.len()),
            "{}: {} room types",
            hotel.hotel.name,
            hotel.room_types.len()
        );
        room_types += hotel.room_types.len();
        let hotel_rooms = catalog
            .list_rooms(&owner, hotel.hotel.id)
            .await
            .expect("rooms");
        rooms += hotel_rooms.len();
        let mut per_type: BTreeMap<RoomTypeId, usize> = BTreeMap::new();
        for room in &hotel_rooms {
            let number: i32 = room.number.parse().expect("numeric door number");
            assert_eq!(
                number / 100,
                room.floor,
                "room {} on floor {}",
                room.number,
                room.floor
            );
            assert!((1..=99).contains(&(number % 100)));
            *per_type.entry(room.room_type_id).or_default() += 1;
            not_ready += usize::from(room.status != RoomStatus::Ready);
        }
        for rt in &hotel.room_types {
            let count = per_type.get(&rt.id).copied().unwrap_or(0);
            assert!((2..=12).contains(&count), "{}: {count} rooms", rt.name);
            assert!(rt.active_rooms >= 1);
            assert_eq!(rt.base_price.currency, hotel.hotel.currency);
            // Same type: summer above February, Saturday above Tuesday.
            let summer = night_price(&catalog, rt.id, date!(2027 - 07 - 13)).await;
            let february = night_price(&catalog, rt.id, date!(2027 - 02 - 09)).await;
            assert!(
                summer > february,
                "{} {}: {summer} vs {february}",
                hotel.hotel.name,
                rt.name
            );
            let saturday = night_price(&catalog, rt.id, date!(2026 - 12 - 05)).await;
            let tuesday = night_price(&catalog, rt.id, date!(2026 - 12 - 01)).await;
            assert!(
                saturday > tuesday,
                "{} {}: {saturday} vs {tuesday}",
                hotel.hotel.name,
                rt.name
            );
        }
    }
    assert_eq!((room_types, rooms), (summary.room_types, summary.rooms));
    assert!(
        not_ready > 0,
        "some rooms need cleaning or are out of service"
    );
    let prague = hotels
        .iter()
        .find(|h| h.city == "Prague")
        .expect("a Prague hotel");
    assert_eq!(prague.currency.as_str(), "CZK");
}

#[tokio::test]
async fn new_years_eve_needs_two_nights_and_radius_search_finds_neighbours() {
    let db = TestDatabase::sqlite().await;
    let catalog = catalog(&db, TODAY).await;
    seed_demo(&catalog, &Principal::DEVELOPMENT, TODAY)
        .await
        .expect("seeded");
    let hotel = all_hotels(&catalog)
        .await
        .into_iter()
        .next()
        .expect("a hotel");
    let room_type = catalog.get_hotel(hotel.id).await.expect("hotel").room_types[0].id;
    let one_night =
        StayDates::from_stored(date!(2026 - 12 - 31), date!(2027 - 01 - 01)).expect("stay");
    let err = catalog
        .quote(room_type, one_night, 1)
        .await
        .expect_err("one night on New Year's Eve");
    assert_eq!(err.code, innkeeper_kernel::ErrorCode::ValidationFailed);
    let two_nights =
        StayDates::from_stored(date!(2026 - 12 - 31), date!(2027 - 01 - 02)).expect("stay");
    assert!(catalog.quote(room_type, two_nights, 1).await.is_ok());

    // From Chiado, 2 km covers central Lisbon but not Belém.
    let chiado = innkeeper_kernel::GeoPoint {
        lat: 38.7107,
        lon: -9.1420,
    };
    let near = catalog
        .list_hotels(HotelQuery {
            near: Some(chiado),
            radius_km: Some(2.0),
            ..HotelQuery::default()
        })
        .await
        .expect("near");
    let names: BTreeSet<&str> = near.items.iter().map(|h| h.name.as_str()).collect();
    assert!(
        names.contains("Alfama Terraces") && !names.contains("Belém Riverside Inn"),
        "{names:?}"
    );
}

#[tokio::test]
async fn seeding_twice_on_the_same_day_gives_the_same_hotels() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let db = TestDatabase::sqlite().await;
        let catalog = catalog(&db, TODAY).await;
        seed_demo(&catalog, &Principal::DEVELOPMENT, TODAY)
            .await
            .expect("seeded");
        let mut hotels = Vec::new();
        for h in all_hotels(&catalog).await {
            let details = catalog.get_hotel(h.id).await.expect("hotel");
            let types: Vec<(String, i64)> = details
                .room_types
                .into_iter()
                .map(|rt| (rt.name, rt.base_price.amount))
                .collect();
            hotels.push((h.name, types));
        }
        hotels.sort();
        runs.push(hotels);
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn the_bench_set_materialises_every_night() {
    let db = TestDatabase::sqlite().await;
    let catalog = catalog(&db, TODAY).await;
    let owner = Principal::DEVELOPMENT;
    let summary = seed_bench(&catalog, &owner, TODAY, 10, 3, 30)
        .await
        .expect("seeded");
    assert_eq!((summary.hotels, summary.room_types), (10, 30));
    let hotel = all_hotels(&catalog)
        .await
        .into_iter()
        .next()
        .expect("a hotel");
    let to = date!(2026 - 12 - 22);
    let nights = catalog
        .get_inventory(&owner, hotel.id, TODAY, to)
        .await
        .expect("inventory");
    assert_eq!(nights.len(), 3 * 30);
    assert!(
        nights
            .iter()
            .all(|n| n.total >= 3 && n.held == 0 && n.sold == 0)
    );
}

#[test]
fn the_demo_stays_within_a_few_thousand_calls() {
    let plans = demo_plan(TODAY).expect("plan");
    let calls: usize = plans
        .iter()
        .map(|h| {
            1 + h
                .room_types
                .iter()
                .map(|t| 1 + t.rooms.len() + t.inventory.len() + t.rates.len())
                .sum::<usize>()
        })
        .sum();
    assert!(calls <= 4_000, "{calls} calls");
    assert!(plans.len() >= 24);
}

// Multi-threaded: `TestDatabase`'s drop blocks one thread while the pool closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seeds_on_postgresql_too() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let catalog = catalog(&db, TODAY).await;
    let summary = seed_demo(&catalog, &Principal::DEVELOPMENT, TODAY)
        .await
        .expect("seeded");
    let hotels = all_hotels(&catalog).await;
    assert_eq!(hotels.len(), summary.hotels);
    assert!(summary.hotels >= 24 && summary.rooms >= summary.room_types * 2);
    let prague = hotels
        .iter()
        .find(|h| h.city == "Prague")
        .expect("a Prague hotel");
    let room_type = catalog
        .get_hotel(prague.id)
        .await
        .expect("hotel")
        .room_types[0]
        .id;
    let summer = night_price(&catalog, room_type, date!(2027 - 07 - 13)).await;
    let february = night_price(&catalog, room_type, date!(2027 - 02 - 09)).await;
    assert!(summer > february, "{summer} vs {february}");
}
