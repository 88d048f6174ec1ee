//! Values shared by the tests of every layer.

use innkeeper_kernel::{Currency, HotelId, Money, Principal, Role, RoomTypeId, StayDates, UserId};
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

use crate::api::{Actor, BookingId, CancellationPolicy, NightlyPrice, PriceSnapshot};
use crate::domain::booking::{self, Decided};
use crate::domain::events::Created;
use crate::domain::reference;

/// The instant fixtures are made at (whole seconds: every backend stores them exactly).
pub(crate) const T0: OffsetDateTime = datetime!(2027-01-05 10:00 UTC);

/// The fixtures' check-in day, some weeks after [`T0`].
pub(crate) const CHECK_IN: Date = date!(2027 - 02 - 10);

/// Euros.
pub(crate) fn eur(amount: i64) -> Money {
    Money {
        amount,
        currency: Currency::EUR,
    }
}

/// A guest principal.
pub(crate) fn guest() -> Principal {
    Principal {
        user_id: UserId::new(),
        role: Role::Guest,
    }
}

/// The price of `nights` nights from `check_in` at `per_night`, for `rooms` rooms.
pub(crate) fn price(check_in: Date, nights: i64, per_night: i64, rooms: u32) -> PriceSnapshot {
    let nights: Vec<NightlyPrice> = (0..nights)
        .map(|n| NightlyPrice {
            night: check_in + Duration::days(n),
            price: eur(per_night),
        })
        .collect();
    let total = per_night * nights.len() as i64 * i64::from(rooms);
    PriceSnapshot {
        nights,
        total: eur(total),
    }
}

/// What a guest booked: 2 nights from [`CHECK_IN`], one room at 129.00.
pub(crate) fn created(guest_id: UserId) -> Created {
    let stay = StayDates::from_stored(CHECK_IN, CHECK_IN + Duration::days(2)).expect("stay");
    Created {
        reference: reference::generate(&mut rand::rng()),
        guest_id,
        hotel_id: HotelId::new(),
        hotel_owner_id: UserId::new(),
        room_type_id: RoomTypeId::new(),
        stay,
        guests: 2,
        rooms: 1,
        guest_name: "Ana Lima".to_owned(),
        guest_email: Some("ana@example.test".to_owned()),
        special_requests: None,
        price: price(CHECK_IN, 2, 12_900, 1),
        cancellation_policy: CancellationPolicy {
            free_until_days_before: 3,
            late_refund_percent: 50,
        },
        hold_expires_at: T0 + Duration::minutes(15),
        payment: None,
    }
}

/// A new booking by a fresh guest, decided at [`T0`].
pub(crate) fn new_booking() -> Decided {
    let guest = guest();
    booking::create(
        BookingId::new(),
        created(guest.user_id),
        Actor::user(&guest),
        T0,
    )
    .expect("create")
}

/// The payment service as an actor.
pub(crate) fn payment() -> Actor {
    Actor::service("payment")
}
