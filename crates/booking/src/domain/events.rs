//! The events of a booking's stream. Each is recorded with its version, its actor and its time;
//! the stream is the source of truth and the audit trail.

use innkeeper_kernel::{HoldId, HotelId, Money, RoomId, RoomTypeId, StayDates, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api::{
    Actor, BookingId, CancellationPolicy, HistoryEntry, PaymentLink, PriceRule, PriceSnapshot,
    Reference, Refund,
};

/// The `reason` of a cancellation the payment service's decline caused.
pub(crate) const PAYMENT_FAILED: &str = "payment_failed";

/// The first event: what was booked, at what price, under which policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Created {
    pub reference: Reference,
    pub guest_id: UserId,
    pub hotel_id: HotelId,
    pub hotel_owner_id: UserId,
    pub room_type_id: RoomTypeId,
    pub stay: StayDates,
    pub guests: u32,
    pub rooms: u32,
    pub guest_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_requests: Option<String>,
    pub price: PriceSnapshot,
    pub cancellation_policy: CancellationPolicy,
    #[serde(with = "time::serde::rfc3339")]
    pub hold_expires_at: OffsetDateTime,
    /// The payment opened for the booking (absent where no payment service runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentLink>,
}

/// Why a payment was declined, as the payment service said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PaymentFailure {
    pub payment_id: uuid::Uuid,
    /// The provider's code (`card_declined`, ...).
    pub code: String,
}

/// New terms of a stay, held under a new hold before the old one was released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Modified {
    pub room_type_id: RoomTypeId,
    pub hold_id: HoldId,
    pub stay: StayDates,
    pub guests: u32,
    pub rooms: u32,
    pub price: PriceSnapshot,
    /// New total minus old total, minor units.
    pub price_difference: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub hold_expires_at: OffsetDateTime,
    /// The payment opened for the change: the new price of an unpaid booking, or the balance a
    /// paid one owes now (`balance_due`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentLink>,
    /// The balance the paid booking owes after the change (paid less than its new price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_due: Option<Money>,
    /// What goes back to the guest (paid more than the new price): `paid` goes down by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_due: Option<Money>,
    /// Payments the change replaced (an unpaid booking's previous one, a balance no longer
    /// owed): the payment service cancels them, or refunds them if paid all the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<uuid::Uuid>,
}

/// Something that happened to a booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum BookingEvent {
    /// Booked: `pending_payment`.
    Created(Box<Created>),
    /// The payment succeeded: `confirmed`.
    Confirmed {
        payment_id: uuid::Uuid,
        amount: Money,
    },
    /// Cancelled, with the refund the policy allowed. A cancellation the payment's decline
    /// caused has reason [`PAYMENT_FAILED`] and names the payment.
    Cancelled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        refund: Refund,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_failure: Option<PaymentFailure>,
        /// What the booking counted as paid when it was cancelled (the policy's base), so
        /// the payment service also returns money the booking never counted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        paid: Option<Money>,
    },
    /// The balance a change left owing was paid (`payment.succeeded` of that payment): `paid`
    /// goes up, the status stays.
    BalancePaid {
        payment_id: uuid::Uuid,
        amount: Money,
    },
    /// Money went back to the guest (`payment.refunded`); the status stays as it is.
    Refunded {
        payment_id: uuid::Uuid,
        refund_id: uuid::Uuid,
        /// This refund.
        amount: Money,
        /// Every refund of the payment so far, this one included.
        total_refunded: Money,
        /// Why, as the payment service recorded it (`cancellation`, `expired`, ...).
        reason: String,
    },
    /// Not paid in time.
    Expired {},
    /// The guest arrived and has their rooms.
    CheckedIn { room_ids: Vec<RoomId> },
    /// The guest left.
    CheckedOut {},
    /// The guest never came.
    NoShow {},
    /// Dates, guests or room type changed.
    Modified(Box<Modified>),
    /// The hotel moved the stay to another room type, at the price it was booked for.
    Upgraded {
        from_room_type_id: RoomTypeId,
        room_type_id: RoomTypeId,
        hold_id: HoldId,
        price_rule: PriceRule,
        #[serde(with = "time::serde::rfc3339")]
        hold_expires_at: OffsetDateTime,
    },
}

impl BookingEvent {
    /// The event's name: the `type` column, the `type` of history entries and the middle of
    /// its CloudEvents type (`innkeeper.booking.<name>.v1`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            BookingEvent::Created(_) => "created",
            BookingEvent::Confirmed { .. } => "confirmed",
            BookingEvent::Cancelled { .. } => "cancelled",
            BookingEvent::Refunded { .. } => "refunded",
            BookingEvent::BalancePaid { .. } => "balance_paid",
            BookingEvent::Expired {} => "expired",
            BookingEvent::CheckedIn { .. } => "checked_in",
            BookingEvent::CheckedOut {} => "checked_out",
            BookingEvent::NoShow {} => "no_show",
            BookingEvent::Modified(_) => "modified",
            BookingEvent::Upgraded { .. } => "upgraded",
        }
    }

    /// The event's data without its type: the stored payload.
    pub(crate) fn data(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.remove("type");
        }
        value
    }

    /// The event of a stored type and payload.
    pub(crate) fn from_stored(
        event_type: &str,
        data: serde_json::Value,
    ) -> Result<Self, serde_json::Error> {
        let mut object = match data {
            serde_json::Value::Object(object) => object,
            _ => serde_json::Map::new(),
        };
        object.insert("type".to_owned(), serde_json::Value::from(event_type));
        serde_json::from_value(serde_json::Value::Object(object))
    }
}

/// An event as recorded in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordedEvent {
    pub booking_id: BookingId,
    /// 1 for `created`, then one more per event.
    pub version: i64,
    pub event: BookingEvent,
    pub actor: Actor,
    pub at: OffsetDateTime,
}

impl RecordedEvent {
    /// The public history entry of this event.
    pub(crate) fn to_history(&self) -> HistoryEntry {
        HistoryEntry {
            version: self.version,
            event_type: self.event.name().to_owned(),
            actor: self.actor.clone(),
            at: self.at,
            data: self.event.data(),
        }
    }
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::Currency;

    use super::*;
    use crate::api::RefundRule;

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let events = [
            BookingEvent::Confirmed {
                payment_id: uuid::Uuid::nil(),
                amount: Money {
                    amount: 25_800,
                    currency: Currency::EUR,
                },
            },
            BookingEvent::Cancelled {
                reason: Some("plans changed".to_owned()),
                refund: Refund {
                    amount: Money::zero(Currency::EUR),
                    rule: RefundRule::NothingPaid,
                },
                payment_failure: None,
                paid: None,
            },
            BookingEvent::Cancelled {
                reason: Some(PAYMENT_FAILED.to_owned()),
                refund: Refund {
                    amount: Money::zero(Currency::EUR),
                    rule: RefundRule::NothingPaid,
                },
                payment_failure: Some(PaymentFailure {
                    payment_id: uuid::Uuid::nil(),
                    code: "card_declined".to_owned(),
                }),
                paid: Some(Money::zero(Currency::EUR)),
            },
            BookingEvent::BalancePaid {
                payment_id: uuid::Uuid::nil(),
                amount: Money {
                    amount: 4_200,
                    currency: Currency::EUR,
                },
            },
            BookingEvent::Refunded {
                payment_id: uuid::Uuid::nil(),
                refund_id: uuid::Uuid::nil(),
                amount: Money {
                    amount: 100,
                    currency: Currency::EUR,
                },
                total_refunded: Money {
                    amount: 100,
                    currency: Currency::EUR,
                },
                reason: "cancellation".to_owned(),
            },
            BookingEvent::Expired {},
            BookingEvent::CheckedIn {
                room_ids: vec![RoomId(uuid::Uuid::nil())],
            },
            BookingEvent::CheckedOut {},
            BookingEvent::NoShow {},
        ];
        for event in events {
            let data = event.data();
            assert!(
                data.get("type").is_none(),
                "the type is a column of its own"
            );
            let back = BookingEvent::from_stored(event.name(), data).expect("decodes");
            assert_eq!(back, event);
        }
        assert!(BookingEvent::from_stored("teleported", serde_json::json!({})).is_err());
    }
}
