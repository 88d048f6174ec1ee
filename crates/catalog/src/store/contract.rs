//! The store contract suite: one set of tests every [`CatalogStore`] backend must pass.
//!
//! Each test is a `pub(crate) async fn name(store: Arc<dyn CatalogStore>)` in a submodule;
//! [`contract_suite!`] turns the whole list into one `#[tokio::test]` per test for a backend,
//! given an async factory returning the migrated store and the database that must outlive it
//! (`None` skips: PostgreSQL off CI). Add a test by writing the function and naming it in the
//! macro's list; tests that also read the database (the outbox) take it as a second argument
//! and go in the `@with_database` list.

use std::sync::Arc;

use innkeeper_kernel::{
    Currency, GeoPoint, HoldId, HotelId, Money, Night, RoomId, RoomTypeId, UserId,
};
use time::macros::datetime;
use time::{Date, Duration, OffsetDateTime};

use crate::api::{Bed, BedKind, Hotel, Room, RoomStatus, RoomType};
use crate::store::{CatalogStore, NewHold, SearchScope, StoredNight};

mod events;
mod holds;
mod hotels;
mod inventory;
mod race;
mod rooms;

/// Generates one test per contract test for a backend; `$factory` is an async fn returning
/// `Option<(Arc<dyn CatalogStore>, TestDatabase)>`.
macro_rules! contract_suite {
    ($factory:path) => {
        contract_suite!(@tests $factory;
            hotels::hotels_round_trip_and_updates_check_the_version,
            hotels::hotel_list_filters_by_city_box_text_and_cursor,
            rooms::room_types_count_their_active_rooms,
            rooms::room_numbers_are_unique_per_hotel,
            rooms::room_changes_resync_default_allotments,
            rooms::default_allotments_follow_active_rooms_as_rooms_come_back,
            inventory::rates_price_nights_and_materialise_them,
            inventory::inventory_below_held_and_sold_is_refused_whole,
            inventory::room_type_nights_follow_scope_and_capacity,
            holds::a_hold_lives_and_counters_follow,
            holds::expiry_gives_rooms_back,
            holds::sold_out_holds_nothing_on_any_night,
            holds::every_change_of_a_night_raises_its_revision,
            race::the_last_room_goes_to_exactly_one_of_64,
            race::overlapping_stays_never_oversell,
        );
        contract_suite!(@with_database $factory;
            events::every_inventory_change_publishes_one_event,
        );
    };
    (@with_database $factory:path; $($module:ident :: $test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let Some((store, database)) = $factory().await else {
                    return;
                };
                $crate::store::contract::$module::$test(store, &database.db).await;
            }
        )*
    };
    (@tests $factory:path; $($module:ident :: $test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let Some((store, _database)) = $factory().await else {
                    return;
                };
                $crate::store::contract::$module::$test(store).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures shared by the tests
// ---------------------------------------------------------------------------------------------

/// The instant every fixture is created at (whole seconds: every backend stores them exactly).
pub(crate) const T0: OffsetDateTime = datetime!(2026-11-22 10:00 UTC);

/// A hotel that is not stored yet.
pub(crate) fn hotel(name: &str, city: &str, lat: f64, lon: f64) -> Hotel {
    Hotel {
        id: HotelId::new(),
        owner_id: UserId::new(),
        name: name.to_owned(),
        description: format!("{name}, a small hotel in {city}"),
        address: "Rua Augusta 1".to_owned(),
        city: city.to_owned(),
        country: "PT".to_owned(),
        location: GeoPoint { lat, lon },
        stars: Some(4),
        currency: Currency::EUR,
        timezone: "Europe/Lisbon".to_owned(),
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

/// A room type of `hotel_id` that is not stored yet.
pub(crate) fn room_type(hotel_id: HotelId, name: &str, capacity: u32, base_price: i64) -> RoomType {
    RoomType {
        id: RoomTypeId::new(),
        hotel_id,
        name: name.to_owned(),
        description: format!("{name} with a view"),
        capacity,
        beds: vec![Bed {
            kind: BedKind::Double,
            count: 1,
        }],
        amenities: vec!["wifi".to_owned(), "balcony".to_owned()],
        base_price: Money {
            amount: base_price,
            currency: Currency::EUR,
        },
        active_rooms: 0,
        version: 1,
    }
}

/// A room that is not stored yet.
pub(crate) fn room(room_type: &RoomType, number: &str, floor: i32, status: RoomStatus) -> Room {
    Room {
        id: RoomId::new(),
        hotel_id: room_type.hotel_id,
        room_type_id: room_type.id,
        number: number.to_owned(),
        floor,
        status,
        version: 1,
    }
}

/// A stored hotel with one stored room type ("Deluxe Double") of `rooms` ready rooms.
pub(crate) async fn seed(store: &Arc<dyn CatalogStore>, rooms: u32) -> (Hotel, RoomType) {
    let hotel = hotel("Casa Azul", "Lisbon", 38.7223, -9.1393);
    store.insert_hotel(&hotel).await.expect("insert hotel");
    let mut room_type = room_type(hotel.id, "Deluxe Double", 2, 12_900);
    store
        .insert_room_type(&room_type)
        .await
        .expect("insert room type");
    for n in 0..rooms {
        store
            .insert_room(&room(
                &room_type,
                &format!("{}", 101 + n),
                1,
                RoomStatus::Ready,
            ))
            .await
            .expect("insert room");
    }
    room_type.active_rooms = rooms;
    (hotel, room_type)
}

/// The `n`-th day after 2027-01-01 (tests use disjoint ranges of nights).
pub(crate) fn day(n: i64) -> Night {
    Date::from_calendar_date(2027, time::Month::January, 1).expect("valid date") + Duration::days(n)
}

/// A hold of `room_type` for `[check_in, check_out)`, expiring 15 minutes after [`T0`].
pub(crate) fn new_hold(
    room_type: &RoomType,
    check_in: Date,
    check_out: Date,
    quantity: u32,
) -> NewHold {
    NewHold {
        id: HoldId::new(),
        room_type_id: room_type.id,
        check_in,
        check_out,
        quantity,
        expires_at: T0 + Duration::minutes(15),
        now: T0,
    }
}

/// The materialised nights of one room type in `[from, to)`.
pub(crate) async fn stored_nights(
    store: &Arc<dyn CatalogStore>,
    room_type: &RoomType,
    from: Date,
    to: Date,
) -> Vec<StoredNight> {
    let found = store
        .room_type_nights(&SearchScope::Hotel(room_type.hotel_id), 0, from, to)
        .await
        .expect("room type nights");
    let nights = found
        .into_iter()
        .find(|f| f.room_type.id == room_type.id)
        .map(|f| f.nights)
        .unwrap_or_default();
    // The room type's own read (the search index's after a hold) agrees with the hotel's.
    let own = store
        .nights(room_type.id, from, to)
        .await
        .expect("the room type's nights");
    assert_eq!(own, nights, "nights() and room_type_nights() disagree");
    nights
}

/// `(total, held, sold)` of every night in `[from, to)`; a night without a row is `None`.
pub(crate) async fn counters(
    store: &Arc<dyn CatalogStore>,
    room_type: &RoomType,
    from: Date,
    to: Date,
) -> Vec<Option<(u32, u32, u32)>> {
    let stored = stored_nights(store, room_type, from, to).await;
    std::iter::successors(Some(from), |d| d.next_day())
        .take_while(|d| *d < to)
        .map(|d| {
            stored
                .iter()
                .find(|n| n.night == d)
                .map(|n| (n.total, n.held, n.sold))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

mod sqlite_backend {
    use std::sync::Arc;

    use innkeeper_platform::db::Database;
    use innkeeper_platform::testing::TestDatabase;

    use crate::store::CatalogStore;
    use crate::store::sqlite::SqliteCatalogStore;

    async fn factory() -> Option<(Arc<dyn CatalogStore>, TestDatabase)> {
        let database = TestDatabase::sqlite().await;
        let Database::Sqlite(db) = database.db.clone() else {
            panic!("TestDatabase::sqlite() returned another backend");
        };
        let store: Arc<dyn CatalogStore> = Arc::new(SqliteCatalogStore::new(db));
        store.migrate().await.expect("migrate");
        Some((store, database))
    }

    contract_suite!(factory);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL backend: add `mod postgres_backend` here, modelled on `sqlite_backend`, with a
// factory over `TestDatabase::postgres().await?` (None = skipped off CI) and
// `crate::store::postgres::PgCatalogStore::new(pool)`, ending in `contract_suite!(factory);`.
// ---------------------------------------------------------------------------------------------

mod postgres_backend {
    use std::sync::Arc;

    use innkeeper_platform::testing::TestDatabase;

    use crate::store::CatalogStore;

    async fn factory() -> Option<(Arc<dyn CatalogStore>, TestDatabase)> {
        // `TestDatabase::postgres()` behind a capped pool: see `test_store` for why.
        let (store, database) = crate::store::postgres::test_store().await?;
        let store: Arc<dyn CatalogStore> = Arc::new(store);
        Some((store, database))
    }

    contract_suite!(factory);
}
