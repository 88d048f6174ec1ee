//! The events the booking service publishes (topic [`TOPIC`]) and the payment events it
//! consumes (in the form it reads them: the payment service's contracts in
//! `innkeeper_payment::contracts` carry more fields, which a reader may ignore).
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
    /// `innkeeper.booking.refunded.v1`: money went back to the guest (`data.amount`,
    /// `data.total_refunded`); the status is unchanged.
    BookingRefunded, "innkeeper.booking.refunded.v1"
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
    /// `innkeeper.booking.modified.v1`: new terms; `data.price_difference` (new minus old
    /// total) and what settles it: `data.payment` (the payment opened for the new price or the
    /// balance), `data.balance_due`, `data.refund_due`, `data.superseded` (payments replaced).
    BookingModified, "innkeeper.booking.modified.v1"
);
booking_event!(
    /// `innkeeper.booking.balance_paid.v1`: the balance a change left owing was paid
    /// (`data.payment_id`, `data.amount`); the status is unchanged.
    BookingBalancePaid, "innkeeper.booking.balance_paid.v1"
);

booking_event!(
    /// `innkeeper.booking.upgraded.v1`: the hotel moved the stay to another room type.
    BookingUpgraded, "innkeeper.booking.upgraded.v1"
);

/// The payment service's topic.
pub const PAYMENT_TOPIC: &str = "payment.events";

/// `innkeeper.payment.succeeded.v1`: a booking's payment went through. Subject: the booking
/// id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSucceeded {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    pub amount: Money,
    /// The payment had been given up (its booking ended, or a change replaced it): the
    /// payment service refunds it in full, and the booking counts nothing.
    #[serde(default)]
    pub late: bool,
}

impl Payload for PaymentSucceeded {
    const TYPE: &'static str = "innkeeper.payment.succeeded.v1";
}

/// `innkeeper.payment.failed.v1`: a booking's payment was declined; the booking is cancelled
/// (reason `payment_failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    /// The provider's code (`card_declined`, ...).
    pub code: String,
}

impl Payload for PaymentFailed {
    const TYPE: &'static str = "innkeeper.payment.failed.v1";
}

/// `innkeeper.payment.refunded.v1`: money went back to the guest; recorded on the booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    pub refund_id: Uuid,
    /// This refund.
    pub amount: Money,
    /// Every refund of the payment so far, this one included.
    pub total_refunded: Money,
    /// Why (`cancellation`, `expired`, `late_payment`, `external`, ...).
    pub reason: String,
}

impl Payload for PaymentRefunded {
    const TYPE: &'static str = "innkeeper.payment.refunded.v1";
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::Currency;

    use super::*;

    fn eur(amount: i64) -> Money {
        Money {
            amount,
            currency: Currency::EUR,
        }
    }

    /// What the payment service publishes decodes into the form read here.
    #[test]
    fn the_payment_services_events_decode_as_read_here() {
        use innkeeper_payment::contracts as published;
        let (payment_id, booking_id, refund_id) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let succeeded = serde_json::to_value(published::PaymentSucceeded {
            payment_id,
            booking_id,
            amount: eur(100),
            provider_intent_id: Some("pi_1".into()),
            late: false,
        })
        .expect("json");
        let read: PaymentSucceeded = serde_json::from_value(succeeded).expect("succeeded");
        assert_eq!(read.amount, eur(100));
        assert_eq!(
            <published::PaymentSucceeded as Payload>::TYPE,
            PaymentSucceeded::TYPE
        );
        let failed = serde_json::to_value(published::PaymentFailed {
            payment_id,
            booking_id,
            amount: eur(100),
            code: "card_declined".into(),
            message: "Your card was declined.".into(),
        })
        .expect("json");
        let read: PaymentFailed = serde_json::from_value(failed).expect("failed");
        assert_eq!(
            (read.booking_id, read.code.as_str()),
            (booking_id, "card_declined")
        );
        assert_eq!(
            <published::PaymentFailed as Payload>::TYPE,
            PaymentFailed::TYPE
        );
        let refunded = serde_json::to_value(published::PaymentRefunded {
            payment_id,
            booking_id,
            refund_id,
            amount: eur(40),
            total_refunded: eur(60),
            reason: "cancellation".into(),
            provider_refund_id: None,
        })
        .expect("json");
        let read: PaymentRefunded = serde_json::from_value(refunded).expect("refunded");
        assert_eq!((read.amount, read.total_refunded), (eur(40), eur(60)));
        assert_eq!(
            <published::PaymentRefunded as Payload>::TYPE,
            PaymentRefunded::TYPE
        );
        assert_eq!(published::TOPIC, PAYMENT_TOPIC);
    }
}
