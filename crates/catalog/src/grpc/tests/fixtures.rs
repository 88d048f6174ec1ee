//! Fixed values with every field set to something a default cannot pass for.

use innkeeper_kernel::{
    Currency, GeoPoint, HoldId, HotelId, Money, Principal, Role, RoomId, RoomTypeId, StayDates,
    UserId,
};
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::api::{
    Bed, BedKind, Hold, HoldStatus, Hotel, HotelSummary, NewHotel, NightPrice, Offer, Quote, Room,
    RoomStatus, RoomType,
};

/// Fixed ids.
pub(super) struct Ids {
    pub hotel: HotelId,
    pub room_type: RoomTypeId,
    pub room: RoomId,
    pub hold: HoldId,
    pub owner: UserId,
}

pub(super) fn ids() -> Ids {
    Ids {
        hotel: HotelId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001)),
        room_type: RoomTypeId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002)),
        room: RoomId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0003)),
        hold: HoldId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0004)),
        owner: UserId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0005)),
    }
}

/// A caller that is not the development principal, so a default cannot pass for it.
pub(super) fn caller() -> Principal {
    Principal {
        user_id: UserId(Uuid::from_u128(0xadad)),
        role: Role::Admin,
    }
}

pub(super) fn usd() -> Currency {
    Currency::parse_field("currency", "USD").expect("valid")
}

pub(super) fn money(amount: i64) -> Money {
    Money {
        amount,
        currency: usd(),
    }
}

pub(super) fn stay() -> StayDates {
    StayDates::from_stored(date!(2026 - 12 - 30), date!(2027 - 01 - 02)).expect("valid")
}

pub(super) fn hotel() -> Hotel {
    Hotel {
        id: ids().hotel,
        owner_id: ids().owner,
        name: "Casa do Zé".into(),
        description: "Rooftop pool.\nNo parties.".into(),
        address: "Rua Augusta 1".into(),
        city: "Lisboa".into(),
        country: "PT".into(),
        location: GeoPoint {
            lat: 38.710_059_1,
            lon: -9.137_254_3,
        },
        stars: Some(4),
        currency: usd(),
        timezone: "Europe/Lisbon".into(),
        version: 7,
        created_at: datetime!(2026-11-22 10:15:30.123_456_789 UTC),
        updated_at: datetime!(1969-07-20 20:17:40.000_000_001 UTC),
    }
}

pub(super) fn new_hotel() -> NewHotel {
    NewHotel {
        name: "Casa".into(),
        description: String::new(),
        address: "Rua 2".into(),
        city: "Porto".into(),
        country: "pt".into(),
        location: GeoPoint {
            lat: 95.5,
            lon: -181.25,
        },
        stars: Some(6),
        currency: usd(),
        timezone: String::new(),
    }
}

pub(super) fn summary() -> HotelSummary {
    HotelSummary {
        id: ids().hotel,
        name: "Casa do Zé".into(),
        city: "Lisboa".into(),
        country: "PT".into(),
        location: GeoPoint {
            lat: -0.0,
            lon: 180.0,
        },
        stars: Some(5),
        currency: usd(),
        distance_km: Some(2.75),
    }
}

pub(super) fn room_type() -> RoomType {
    RoomType {
        id: ids().room_type,
        hotel_id: ids().hotel,
        name: "Double with a view".into(),
        description: "Faces the river".into(),
        capacity: 3,
        beds: vec![
            Bed {
                kind: BedKind::Queen,
                count: 1,
            },
            Bed {
                kind: BedKind::Sofa,
                count: 255,
            },
        ],
        amenities: vec!["wifi".into(), "air conditioning".into()],
        base_price: money(12_900),
        active_rooms: 11,
        version: 2,
    }
}

pub(super) fn room() -> Room {
    Room {
        id: ids().room,
        hotel_id: ids().hotel,
        room_type_id: ids().room_type,
        number: "-1A".into(),
        floor: -1,
        status: RoomStatus::Ready,
        version: 4,
    }
}

pub(super) fn offer() -> Offer {
    Offer {
        hotel: summary(),
        room_type_id: ids().room_type,
        room_type_name: "Double with a view".into(),
        capacity: 2,
        check_in: date!(2026 - 12 - 30),
        check_out: date!(2027 - 01 - 02),
        rooms: 2,
        nights: stay()
            .nights()
            .map(|night| NightPrice {
                night,
                price: money(10_000),
            })
            .collect(),
        total: money(60_000),
        rooms_left: 4,
    }
}

pub(super) fn quote() -> Quote {
    Quote {
        hotel_id: ids().hotel,
        hotel_owner_id: caller().user_id,
        room_type_id: ids().room_type,
        capacity: 3,
        stay: stay(),
        rooms: 2,
        nights: offer().nights,
        total: money(60_000),
    }
}

pub(super) fn hold() -> Hold {
    Hold {
        id: ids().hold,
        hotel_id: ids().hotel,
        room_type_id: ids().room_type,
        stay: stay(),
        quantity: 2,
        status: HoldStatus::Held,
        expires_at: datetime!(2026-11-22 10:30:00.5 UTC),
        created_at: datetime!(2026-11-22 10:15:00 UTC),
        updated_at: datetime!(2026-11-22 10:16:00.000_001 UTC),
    }
}
