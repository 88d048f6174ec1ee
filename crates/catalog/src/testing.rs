//! Fixtures for the catalog's own tests.

use std::sync::Arc;

use innkeeper_kernel::{
    Clock, Currency, GeoPoint, HotelId, ManualClock, Money, Principal, RoomTypeId, StayDates,
};
use innkeeper_platform::testing::TestDatabase;
use time::Duration;
use time::macros::datetime;

use crate::api::{
    CatalogApi, HotelAvailabilityQuery, NewHotel, NewRoom, NewRoomType, PlaceHold, RoomStatus,
};
use crate::app::{CatalogService, CatalogSettings};
use crate::module::CatalogModule;

/// A catalog on SQLite with one hotel, one room type of `rooms` ready rooms and its
/// search index loaded, and a stay three days out.
pub(crate) struct Indexed {
    pub(crate) module: CatalogModule,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) hotel_id: HotelId,
    pub(crate) room_type_id: RoomTypeId,
    pub(crate) stay: StayDates,
    _db: TestDatabase,
}

impl Indexed {
    /// Builds it; the hotel's owner is [`Principal::DEVELOPMENT`].
    pub(crate) async fn new(rooms: u32) -> Self {
        let db = TestDatabase::sqlite().await;
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-22 10:00 UTC)));
        let module = CatalogModule::start(&db.db, clock.clone(), CatalogSettings::default())
            .await
            .expect("start");
        let catalog = &module.service;
        let owner = Principal::DEVELOPMENT;
        let new_hotel = NewHotel {
            name: "Casa Azul".into(),
            description: String::new(),
            address: "Rua Augusta 1".into(),
            city: "Lisbon".into(),
            country: "PT".into(),
            location: GeoPoint {
                lat: 38.72,
                lon: -9.14,
            },
            stars: None,
            currency: Currency::EUR,
            timezone: "Europe/Lisbon".into(),
        };
        let hotel = catalog
            .create_hotel(&owner, new_hotel)
            .await
            .expect("hotel");
        let new_type = NewRoomType {
            name: "Double".into(),
            description: String::new(),
            capacity: 2,
            beds: vec![],
            amenities: vec![],
            base_price: Money {
                amount: 10_000,
                currency: Currency::EUR,
            },
        };
        let room_type = catalog
            .create_room_type(&owner, hotel.id, new_type)
            .await
            .expect("room type");
        for n in 0..rooms {
            let room = NewRoom {
                number: format!("{}", 101 + n),
                floor: 1,
                room_type_id: room_type.id,
                status: RoomStatus::Ready,
            };
            catalog
                .create_room(&owner, hotel.id, room)
                .await
                .expect("room");
        }
        catalog.load_search_index().await.expect("index");
        let today = clock.today();
        let stay = StayDates::from_stored(today + Duration::days(3), today + Duration::days(5))
            .expect("stay");
        Self {
            module,
            clock,
            hotel_id: hotel.id,
            room_type_id: room_type.id,
            stay,
            _db: db,
        }
    }

    pub(crate) fn catalog(&self) -> &CatalogService {
        &self.module.service
    }

    /// The rooms the index offers for the stay (0 when it offers none).
    pub(crate) async fn rooms_left(&self) -> u32 {
        let query = HotelAvailabilityQuery {
            hotel_id: self.hotel_id,
            stay: self.stay,
            guests: 2,
            rooms: 1,
        };
        let offers = self
            .catalog()
            .hotel_availability(query)
            .await
            .expect("search");
        offers.first().map_or(0, |offer| offer.rooms_left)
    }

    /// A hold of one room for the stay, for ten minutes.
    pub(crate) fn hold(&self) -> PlaceHold {
        PlaceHold {
            hold_id: innkeeper_kernel::HoldId::new(),
            room_type_id: self.room_type_id,
            stay: self.stay,
            quantity: 1,
            ttl_seconds: 600,
        }
    }
}
