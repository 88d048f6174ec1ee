//! The events the payment service publishes (topic [`TOPIC`], subject: the booking id) and the
//! booking events it reads.
//!
//! `innkeeper.payment.succeeded.v1` has the form the booking service reads
//! (`crates/booking/src/contracts.rs`: `payment_id`, `booking_id`, `amount`); the other fields
//! are additions a reader may ignore.

use innkeeper_events::Payload;
use innkeeper_kernel::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The payment service's topic.
pub const TOPIC: &str = "payment.events";

/// The payment service's CloudEvents `source`.
pub const SOURCE: &str = "/innkeeper/payment";

/// The booking service's topic, read by [`crate::BookingOutcomes`].
pub const BOOKING_TOPIC: &str = "booking.events";

/// `innkeeper.booking.created.v1`: the booking was recorded; `data.payment.payment_id` names
/// its payment.
pub const BOOKING_CREATED: &str = "innkeeper.booking.created.v1";

/// `innkeeper.booking.modified.v1`: new terms, with what they settle ([`ChangeSettlement`]).
pub const BOOKING_MODIFIED: &str = "innkeeper.booking.modified.v1";

/// `innkeeper.booking.checked_in.v1`: from now on a balance is settled at the front desk.
pub const BOOKING_CHECKED_IN: &str = "innkeeper.booking.checked_in.v1";

/// `innkeeper.booking.no_show.v1`.
pub const BOOKING_NO_SHOW: &str = "innkeeper.booking.no_show.v1";

/// `innkeeper.booking.expired.v1`.
pub const BOOKING_EXPIRED: &str = "innkeeper.booking.expired.v1";

/// `innkeeper.booking.cancelled.v1`.
pub const BOOKING_CANCELLED: &str = "innkeeper.booking.cancelled.v1";

/// `innkeeper.payment.succeeded.v1`: the money is captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSucceeded {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    /// What was captured.
    pub amount: Money,
    /// The provider's intent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_intent_id: Option<String>,
    /// True when the booking had already ended (it is refunded automatically).
    #[serde(default)]
    pub late: bool,
}

impl Payload for PaymentSucceeded {
    const TYPE: &'static str = "innkeeper.payment.succeeded.v1";
}

/// `innkeeper.payment.failed.v1`: the payment was declined; the booking is to be cancelled
/// (reason `payment_failed`) and its hold released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    pub amount: Money,
    /// The provider's code (`card_declined`, `processing_error`, ...).
    pub code: String,
    /// For a person.
    pub message: String,
}

impl Payload for PaymentFailed {
    const TYPE: &'static str = "innkeeper.payment.failed.v1";
}

/// `innkeeper.payment.refunded.v1`: money went back to the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    pub refund_id: Uuid,
    /// This refund.
    pub amount: Money,
    /// Every refund of the payment so far, this one included.
    pub total_refunded: Money,
    /// Why: `cancellation`, `expired`, `late_payment`, `external` (made at the provider), or
    /// the reason a caller gave.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_refund_id: Option<String>,
}

impl Payload for PaymentRefunded {
    const TYPE: &'static str = "innkeeper.payment.refunded.v1";
}

/// The part of a booking event (`BookingNotice` in the booking crate) this service reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BookingNotice {
    pub booking_id: Uuid,
    /// The version the event gave the booking.
    #[serde(default)]
    pub version: i64,
    /// The event's own data: for `cancelled`, `{"reason"?, "refund": {"amount", "rule"},
    /// "paid"?}`; for `created`, `{"payment"?: {"payment_id", ...}, ...}`; for `modified`, a
    /// [`ChangeSettlement`] among the new terms.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// The refund a booking's cancellation recorded (`data.refund`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CancellationRefund {
    pub amount: Money,
    /// `nothing_paid`, `free_cancellation` or `late_cancellation`.
    pub rule: String,
}

/// A payment a booking event names (`data.payment`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentLink {
    pub payment_id: Uuid,
}

/// What a change of a booking (`modified`) settles, as the booking decided it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ChangeSettlement {
    /// The payment opened for the change: the new price of an unpaid booking, or the balance a
    /// paid one owes now.
    #[serde(default)]
    pub payment: Option<PaymentLink>,
    /// Payments the change replaced (the unpaid booking's previous one, a balance no longer
    /// owed): cancelled, or refunded in full if paid all the same (the booking never counts
    /// them).
    #[serde(default)]
    pub superseded: Vec<Uuid>,
    /// What goes back to the guest: the booking was paid more than its new price.
    #[serde(default)]
    pub refund_due: Option<Money>,
}
