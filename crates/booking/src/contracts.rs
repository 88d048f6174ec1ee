//! The events the booking service publishes (topic [`TOPIC`]) and the payment event it
//! consumes.
//!
//! They belong in `innkeeper_events::contracts` beside the catalog's; that crate is being
//! finished elsewhere, so they live here until they move (their wire form stays the same).

use innkeeper_events::Payload;
use innkeeper_kernel::Money;
use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use crate::api::{Actor, BookingStatus};

/// The booking service's topic.
pub const TOPIC: &str = "booking.events";

/// The booking service's CloudEvents `source`.
pub const SOURCE: &str = "/innkeeper/booking";

/// What every booking event carries: which booking, at which version and status after the
/// change, who made it, and the event's own data (as in `GET /bookings/{id}/history`).
/// Subject (and Kafka key): the booking id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingNotice {
    pub booking_id: Uuid,
    pub reference: String,
    /// The version this event gave the booking (1 for `created`).
    pub version: i64,
    /// The status after the event.
    pub status: BookingStatus,
    pub guest_id: Uuid,
    pub hotel_id: Uuid,
    pub room_type_id: Uuid,
    pub check_in: Date,
    pub check_out: Date,
    pub actor: Actor,
    /// The event's data.
    pub data: serde_json::Value,
}

macro_rules! booking_event {
    ($(#[$doc:meta])* $name:ident, $type:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub BookingNotice);

        impl Payload for $name {
            const TYPE: &'static str = $type;
        }
    };
}

booking_event!(
    /// `innkeeper.booking.created.v1`: booked, `pending_payment`.
    BookingCreated, "innkeeper.booking.created.v1"
);
booking_event!(
    /// `innkeeper.booking.confirmed.v1`: paid.
    BookingConfirmed, "innkeeper.booking.confirmed.v1"
);
booking_event!(
    /// `innkeeper.booking.cancelled.v1`: cancelled; `data.refund` is owed to the guest.
    BookingCancelled, "innkeeper.booking.cancelled.v1"
);
booking_event!(
    /// `innkeeper.booking.expired.v1`: not paid in time.
    BookingExpired, "innkeeper.booking.expired.v1"
);
booking_event!(
    /// `innkeeper.booking.checked_in.v1`.
    BookingCheckedIn, "innkeeper.booking.checked_in.v1"
);
booking_event!(
    /// `innkeeper.booking.checked_out.v1`.
    BookingCheckedOut, "innkeeper.booking.checked_out.v1"
);
booking_event!(
    /// `innkeeper.booking.no_show.v1`.
    BookingNoShow, "innkeeper.booking.no_show.v1"
);
booking_event!(
    /// `innkeeper.booking.modified.v1`: new terms; `data.price_difference` is to be settled.
    BookingModified, "innkeeper.booking.modified.v1"
);

booking_event!(
    /// `innkeeper.booking.upgraded.v1`: the hotel moved the stay to another room type.
    BookingUpgraded, "innkeeper.booking.upgraded.v1"
);

/// The payment service's topic.
pub const PAYMENT_TOPIC: &str = "payment.events";

/// `innkeeper.payment.succeeded.v1`: a booking's payment went through. Subject: the booking
/// id. (The payment service will own this contract; this is the form booking reads.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSucceeded {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    pub amount: Money,
}

impl Payload for PaymentSucceeded {
    const TYPE: &'static str = "innkeeper.payment.succeeded.v1";
}
