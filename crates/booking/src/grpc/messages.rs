//! [`Wire`] for the booking's values: bookings, requests, queries, history.

use innkeeper_kernel::{Error, Page, Result};
use innkeeper_proto::booking::v1 as pb;

use super::wire::{
    At, Wire, field, list, opt_proto, optional, protos, required, role_from_proto, role_to_proto,
};
use crate::api::{
    Actor, Booking, BookingPatch, BookingPayment, BookingQuery, CancellationPolicy, HistoryEntry,
    IdempotencyKey, NewBooking, NightlyPrice, PriceSnapshot, Reference, Refund, UpgradeNote,
};

impl Wire for NightlyPrice {
    type Proto = pb::NightlyPrice;
    fn to_proto(&self) -> pb::NightlyPrice {
        pb::NightlyPrice {
            night: self.night.to_proto(),
            price: Some(self.price.to_proto()),
        }
    }
    fn from_proto(p: pb::NightlyPrice, at: &At<'_>) -> Result<Self> {
        Ok(NightlyPrice {
            night: field(at, "night", p.night)?,
            price: required(at, "price", p.price)?,
        })
    }
}

impl Wire for PriceSnapshot {
    type Proto = pb::PriceSnapshot;
    fn to_proto(&self) -> pb::PriceSnapshot {
        pb::PriceSnapshot {
            nights: protos(&self.nights),
            total: Some(self.total.to_proto()),
        }
    }
    fn from_proto(p: pb::PriceSnapshot, at: &At<'_>) -> Result<Self> {
        Ok(PriceSnapshot {
            nights: list(at, "nights", p.nights)?,
            total: required(at, "total", p.total)?,
        })
    }
}

impl Wire for CancellationPolicy {
    type Proto = pb::CancellationPolicy;
    fn to_proto(&self) -> pb::CancellationPolicy {
        pb::CancellationPolicy {
            free_until_days_before: self.free_until_days_before,
            late_refund_percent: self.late_refund_percent.to_proto(),
        }
    }
    fn from_proto(p: pb::CancellationPolicy, at: &At<'_>) -> Result<Self> {
        Ok(CancellationPolicy {
            free_until_days_before: p.free_until_days_before,
            late_refund_percent: field(at, "late_refund_percent", p.late_refund_percent)?,
        })
    }
}

impl Wire for Refund {
    type Proto = pb::Refund;
    fn to_proto(&self) -> pb::Refund {
        pb::Refund {
            amount: Some(self.amount.to_proto()),
            rule: self.rule.to_proto(),
        }
    }
    fn from_proto(p: pb::Refund, at: &At<'_>) -> Result<Self> {
        Ok(Refund {
            amount: required(at, "amount", p.amount)?,
            rule: field(at, "rule", p.rule)?,
        })
    }
}

impl Wire for UpgradeNote {
    type Proto = pb::UpgradeNote;
    fn to_proto(&self) -> pb::UpgradeNote {
        pb::UpgradeNote {
            from_room_type_id: self.from_room_type_id.to_proto(),
            price_rule: self.price_rule.to_proto(),
        }
    }
    fn from_proto(p: pb::UpgradeNote, at: &At<'_>) -> Result<Self> {
        Ok(UpgradeNote {
            from_room_type_id: field(at, "from_room_type_id", p.from_room_type_id)?,
            price_rule: field(at, "price_rule", p.price_rule)?,
        })
    }
}

impl Wire for Booking {
    type Proto = pb::Booking;
    fn to_proto(&self) -> pb::Booking {
        pb::Booking {
            id: self.id.to_proto(),
            reference: self.reference.as_str().to_owned(),
            status: self.status.to_proto(),
            guest_id: self.guest_id.to_proto(),
            hotel_id: self.hotel_id.to_proto(),
            hotel_owner_id: self.hotel_owner_id.to_proto(),
            room_type_id: self.room_type_id.to_proto(),
            hold_id: self.hold_id.to_proto(),
            stay: Some(self.stay.to_proto()),
            guests: self.guests,
            rooms: self.rooms,
            guest_name: self.guest_name.clone(),
            guest_email: self.guest_email.clone(),
            special_requests: self.special_requests.clone(),
            price: Some(self.price.to_proto()),
            cancellation_policy: Some(self.cancellation_policy.to_proto()),
            payment: self.payment.status.to_proto(),
            payment_id: self.payment.payment_id.map(|id| id.to_string()),
            checkout_url: self.payment.checkout_url.clone(),
            payment_refunded: self.payment.refunded.map(|m| m.to_proto()),
            payment_due: self.payment.due.map(|m| m.to_proto()),
            paid: Some(self.paid.to_proto()),
            refund: opt_proto(self.refund.as_ref()),
            upgrade: opt_proto(self.upgrade.as_ref()),
            room_ids: protos(&self.room_ids),
            hold_expires_at: Some(self.hold_expires_at.to_proto()),
            version: self.version,
            created_at: Some(self.created_at.to_proto()),
            updated_at: Some(self.updated_at.to_proto()),
        }
    }
    fn from_proto(p: pb::Booking, at: &At<'_>) -> Result<Self> {
        Ok(Booking {
            id: field(at, "id", p.id)?,
            reference: Reference(p.reference),
            status: field(at, "status", p.status)?,
            guest_id: field(at, "guest_id", p.guest_id)?,
            hotel_id: field(at, "hotel_id", p.hotel_id)?,
            hotel_owner_id: field(at, "hotel_owner_id", p.hotel_owner_id)?,
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            hold_id: field(at, "hold_id", p.hold_id)?,
            stay: required(at, "stay", p.stay)?,
            guests: p.guests,
            rooms: p.rooms,
            guest_name: p.guest_name,
            guest_email: p.guest_email,
            special_requests: p.special_requests,
            price: required(at, "price", p.price)?,
            cancellation_policy: required(at, "cancellation_policy", p.cancellation_policy)?,
            payment: BookingPayment {
                status: field(at, "payment", p.payment)?,
                payment_id: p
                    .payment_id
                    .map(|id| {
                        uuid::Uuid::parse_str(&id).map_err(|_| {
                            Error::invalid_field(&at.field("payment_id"), "must be a UUID")
                        })
                    })
                    .transpose()?,
                checkout_url: p.checkout_url,
                refunded: optional(at, "payment_refunded", p.payment_refunded)?,
                due: optional(at, "payment_due", p.payment_due)?,
            },
            paid: required(at, "paid", p.paid)?,
            refund: optional(at, "refund", p.refund)?,
            upgrade: optional(at, "upgrade", p.upgrade)?,
            room_ids: list(at, "room_ids", p.room_ids)?,
            hold_expires_at: required(at, "hold_expires_at", p.hold_expires_at)?,
            version: p.version,
            created_at: required(at, "created_at", p.created_at)?,
            updated_at: required(at, "updated_at", p.updated_at)?,
        })
    }
}

impl Wire for NewBooking {
    type Proto = pb::NewBooking;
    fn to_proto(&self) -> pb::NewBooking {
        pb::NewBooking {
            hotel_id: self.hotel_id.to_proto(),
            room_type_id: self.room_type_id.to_proto(),
            check_in: self.check_in.to_proto(),
            check_out: self.check_out.to_proto(),
            guests: self.guests,
            rooms: self.rooms,
            guest_name: self.guest_name.clone(),
            guest_email: self.guest_email.clone(),
            special_requests: self.special_requests.clone(),
        }
    }
    fn from_proto(p: pb::NewBooking, at: &At<'_>) -> Result<Self> {
        // The dates stay two fields: the service checks their order and names `check_out`.
        Ok(NewBooking {
            hotel_id: field(at, "hotel_id", p.hotel_id)?,
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            check_in: field(at, "check_in", p.check_in)?,
            check_out: field(at, "check_out", p.check_out)?,
            guests: p.guests,
            rooms: p.rooms,
            guest_name: p.guest_name,
            guest_email: p.guest_email,
            special_requests: p.special_requests,
        })
    }
}

impl Wire for BookingPatch {
    type Proto = pb::BookingPatch;
    fn to_proto(&self) -> pb::BookingPatch {
        pb::BookingPatch {
            check_in: opt_proto(self.check_in.as_ref()),
            check_out: opt_proto(self.check_out.as_ref()),
            guests: self.guests,
            room_type_id: opt_proto(self.room_type_id.as_ref()),
        }
    }
    fn from_proto(p: pb::BookingPatch, at: &At<'_>) -> Result<Self> {
        Ok(BookingPatch {
            check_in: optional(at, "check_in", p.check_in)?,
            check_out: optional(at, "check_out", p.check_out)?,
            guests: p.guests,
            room_type_id: optional(at, "room_type_id", p.room_type_id)?,
        })
    }
}

impl Wire for BookingQuery {
    type Proto = pb::ListBookingsRequest;
    fn to_proto(&self) -> pb::ListBookingsRequest {
        pb::ListBookingsRequest {
            hotel_id: opt_proto(self.hotel_id.as_ref()),
            status: opt_proto(self.status.as_ref()),
            from: opt_proto(self.from.as_ref()),
            to: opt_proto(self.to.as_ref()),
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
    fn from_proto(p: pb::ListBookingsRequest, at: &At<'_>) -> Result<Self> {
        Ok(BookingQuery {
            hotel_id: optional(at, "hotel_id", p.hotel_id)?,
            status: optional(at, "status", p.status)?,
            from: optional(at, "from", p.from)?,
            to: optional(at, "to", p.to)?,
            limit: p.limit,
            cursor: p.cursor,
        })
    }
}

/// A page of bookings as a response (`Page` is the kernel's, so not a [`Wire`] of this crate).
pub(crate) fn page_to_proto(page: &Page<Booking>) -> pb::ListBookingsResponse {
    pb::ListBookingsResponse {
        items: protos(&page.items),
        next_cursor: page.next_cursor.clone(),
    }
}

/// A page of bookings from a response.
pub(crate) fn page_from_proto(p: pb::ListBookingsResponse, at: &At<'_>) -> Result<Page<Booking>> {
    Ok(Page {
        items: list(at, "items", p.items)?,
        next_cursor: p.next_cursor,
    })
}

impl Wire for Actor {
    type Proto = pb::Actor;
    fn to_proto(&self) -> pb::Actor {
        let kind = match self {
            Actor::User { user_id, role } => pb::actor::Kind::User(pb::UserActor {
                user_id: user_id.to_proto(),
                role: role_to_proto(*role),
            }),
            Actor::Service { name } => {
                pb::actor::Kind::Service(pb::ServiceActor { name: name.clone() })
            }
        };
        pb::Actor { kind: Some(kind) }
    }
    fn from_proto(p: pb::Actor, at: &At<'_>) -> Result<Self> {
        match p.kind {
            Some(pb::actor::Kind::User(user)) => {
                let at = at.field("user");
                Ok(Actor::User {
                    user_id: field(&at, "user_id", user.user_id)?,
                    role: role_from_proto(user.role, &at.field("role"))?,
                })
            }
            Some(pb::actor::Kind::Service(service)) => Ok(Actor::Service { name: service.name }),
            None => Err(Error::invalid_field(at, "must be a user or a service")),
        }
    }
}

impl Wire for HistoryEntry {
    type Proto = pb::HistoryEntry;
    fn to_proto(&self) -> pb::HistoryEntry {
        pb::HistoryEntry {
            version: self.version,
            r#type: self.event_type.clone(),
            actor: Some(self.actor.to_proto()),
            at: Some(self.at.to_proto()),
            // A `Value` always serialises (its map keys are strings).
            data_json: serde_json::to_string(&self.data).unwrap_or_else(|_| "null".to_owned()),
        }
    }
    fn from_proto(p: pb::HistoryEntry, at: &At<'_>) -> Result<Self> {
        let data = serde_json::from_str(&p.data_json)
            .map_err(|_| Error::invalid_field(&at.field("data_json"), "must be a JSON document"))?;
        Ok(HistoryEntry {
            version: p.version,
            event_type: p.r#type,
            actor: required(at, "actor", p.actor)?,
            at: required(at, "at", p.at)?,
            data,
        })
    }
}

/// The field that carries a request's idempotency key.
const KEY_FIELD: &str = "idempotency_key";

/// Decodes the optional idempotency key of a request, naming its field when invalid.
pub(crate) fn key_from_proto(key: Option<String>) -> Result<Option<IdempotencyKey>> {
    key.map(|key| {
        IdempotencyKey::parse(&key).map_err(|_| {
            Error::invalid_field(KEY_FIELD, "must be 1 to 255 visible ASCII characters")
        })
    })
    .transpose()
}

/// The wire form of an optional idempotency key.
pub(crate) fn key_to_proto(key: Option<&IdempotencyKey>) -> Option<String> {
    key.map(|key| key.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::new_booking;

    #[test]
    fn history_data_keeps_its_numbers_exact() {
        let entry = HistoryEntry {
            version: 3,
            event_type: "modified".to_owned(),
            actor: Actor::service("payment"),
            at: crate::fixtures::T0,
            data: serde_json::json!({"difference": {"amount": i64::MAX, "currency": "EUR"},
                                     "ratio": 0.1, "rooms": [1, 2], "none": null}),
        };
        assert_eq!(
            HistoryEntry::from_proto(entry.to_proto(), &At::ROOT),
            Ok(entry)
        );
        let bad = pb::HistoryEntry {
            data_json: "{".into(),
            ..HistoryEntry::from_proto(
                pb::HistoryEntry {
                    version: 1,
                    r#type: "created".into(),
                    actor: Some(Actor::service("x").to_proto()),
                    at: Some(crate::fixtures::T0.to_proto()),
                    data_json: "{}".into(),
                },
                &At::ROOT,
            )
            .expect("valid")
            .to_proto()
        };
        let err = HistoryEntry::from_proto(bad, &At::Name("entries")).expect_err("bad json");
        assert_eq!(err.errors[0].field, "entries.data_json");
    }

    #[test]
    fn a_booking_round_trips_every_field() {
        let mut booking = new_booking().booking;
        // Every optional part filled in, as a cancelled, upgraded stay that had rooms would be.
        booking.refund = Some(Refund {
            amount: crate::fixtures::eur(12_900),
            rule: crate::api::RefundRule::LateCancellation,
        });
        booking.upgrade = Some(UpgradeNote {
            from_room_type_id: innkeeper_kernel::RoomTypeId::new(),
            price_rule: crate::api::PriceRule::Complimentary,
        });
        booking.room_ids = vec![
            innkeeper_kernel::RoomId::new(),
            innkeeper_kernel::RoomId::new(),
        ];
        booking.special_requests = Some("late arrival".to_owned());
        booking.payment = BookingPayment {
            status: crate::api::PaymentState::Refunded,
            payment_id: Some(uuid::Uuid::now_v7()),
            checkout_url: Some("http://127.0.0.1:8080/provider/checkout/pi_1".to_owned()),
            refunded: Some(crate::fixtures::eur(12_900)),
            due: Some(crate::fixtures::eur(3_100)),
        };
        assert_eq!(
            Booking::from_proto(booking.to_proto(), &At::ROOT),
            Ok(booking.clone())
        );
        let mut proto = booking.to_proto();
        proto.room_ids[1] = "room-2".to_owned();
        let err = Booking::from_proto(proto, &At::Name("booking")).expect_err("bad room id");
        assert_eq!(err.errors[0].field, "booking.room_ids[1]");
        let mut proto = booking.to_proto();
        proto.payment_id = Some("pay-1".to_owned());
        let err = Booking::from_proto(proto, &At::Name("booking")).expect_err("bad payment id");
        assert_eq!(err.errors[0].field, "booking.payment_id");
    }

    #[test]
    fn a_bad_key_names_its_field() {
        assert_eq!(key_from_proto(None), Ok(None));
        let err = key_from_proto(Some("with space".into())).expect_err("invalid");
        assert_eq!(err.errors[0].field, KEY_FIELD);
    }
}
