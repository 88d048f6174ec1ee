//! The booking's [`Wire`] conversions: its ids and enums, and the role an actor acted in. The
//! kernel's values and the field-path decoding are shared by every adapter
//! (`innkeeper_proto::wire`).

use innkeeper_kernel::{Result, Role};
use innkeeper_proto::booking::v1 as pb;
pub(crate) use innkeeper_proto::wire::{
    At, Wire, field, list, opt_proto, optional, protos, required, unknown_value,
};

use crate::api::{BookingId, BookingStatus, PaymentState, PriceRule, RefundRule};

impl Wire for BookingId {
    type Proto = String;
    fn to_proto(&self) -> String {
        self.as_uuid().hyphenated().to_string()
    }
    fn from_proto(proto: String, at: &At<'_>) -> Result<Self> {
        BookingId::parse_field(&at.to_string(), &proto)
    }
}

impl Wire for BookingStatus {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let status = match self {
            BookingStatus::PendingPayment => pb::BookingStatus::PendingPayment,
            BookingStatus::Confirmed => pb::BookingStatus::Confirmed,
            BookingStatus::CheckedIn => pb::BookingStatus::CheckedIn,
            BookingStatus::CheckedOut => pb::BookingStatus::CheckedOut,
            BookingStatus::Cancelled => pb::BookingStatus::Cancelled,
            BookingStatus::Expired => pb::BookingStatus::Expired,
            BookingStatus::NoShow => pb::BookingStatus::NoShow,
        };
        status.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::BookingStatus::try_from(proto) {
            Ok(pb::BookingStatus::PendingPayment) => Ok(BookingStatus::PendingPayment),
            Ok(pb::BookingStatus::Confirmed) => Ok(BookingStatus::Confirmed),
            Ok(pb::BookingStatus::CheckedIn) => Ok(BookingStatus::CheckedIn),
            Ok(pb::BookingStatus::CheckedOut) => Ok(BookingStatus::CheckedOut),
            Ok(pb::BookingStatus::Cancelled) => Ok(BookingStatus::Cancelled),
            Ok(pb::BookingStatus::Expired) => Ok(BookingStatus::Expired),
            Ok(pb::BookingStatus::NoShow) => Ok(BookingStatus::NoShow),
            Ok(pb::BookingStatus::Unspecified) | Err(_) => unknown_value(
                at,
                "BOOKING_STATUS_PENDING_PAYMENT, BOOKING_STATUS_CONFIRMED, \
                 BOOKING_STATUS_CHECKED_IN, BOOKING_STATUS_CHECKED_OUT, BOOKING_STATUS_CANCELLED, \
                 BOOKING_STATUS_EXPIRED, BOOKING_STATUS_NO_SHOW",
            ),
        }
    }
}

impl Wire for RefundRule {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let rule = match self {
            RefundRule::NothingPaid => pb::RefundRule::NothingPaid,
            RefundRule::FreeCancellation => pb::RefundRule::FreeCancellation,
            RefundRule::LateCancellation => pb::RefundRule::LateCancellation,
        };
        rule.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::RefundRule::try_from(proto) {
            Ok(pb::RefundRule::NothingPaid) => Ok(RefundRule::NothingPaid),
            Ok(pb::RefundRule::FreeCancellation) => Ok(RefundRule::FreeCancellation),
            Ok(pb::RefundRule::LateCancellation) => Ok(RefundRule::LateCancellation),
            Ok(pb::RefundRule::Unspecified) | Err(_) => unknown_value(
                at,
                "REFUND_RULE_NOTHING_PAID, REFUND_RULE_FREE_CANCELLATION, \
                 REFUND_RULE_LATE_CANCELLATION",
            ),
        }
    }
}

impl Wire for PriceRule {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let rule = match self {
            PriceRule::Complimentary => pb::PriceRule::Complimentary,
        };
        rule.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::PriceRule::try_from(proto) {
            Ok(pb::PriceRule::Complimentary) => Ok(PriceRule::Complimentary),
            Ok(pb::PriceRule::Unspecified) | Err(_) => {
                unknown_value(at, "PRICE_RULE_COMPLIMENTARY")
            }
        }
    }
}

impl Wire for PaymentState {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let state = match self {
            PaymentState::AwaitingPayment => pb::PaymentState::AwaitingPayment,
            PaymentState::Paid => pb::PaymentState::Paid,
            PaymentState::Failed => pb::PaymentState::Failed,
            PaymentState::Refunded => pb::PaymentState::Refunded,
            PaymentState::BalanceDue => pb::PaymentState::BalanceDue,
        };
        state.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::PaymentState::try_from(proto) {
            Ok(pb::PaymentState::AwaitingPayment) => Ok(PaymentState::AwaitingPayment),
            Ok(pb::PaymentState::Paid) => Ok(PaymentState::Paid),
            Ok(pb::PaymentState::Failed) => Ok(PaymentState::Failed),
            Ok(pb::PaymentState::Refunded) => Ok(PaymentState::Refunded),
            Ok(pb::PaymentState::BalanceDue) => Ok(PaymentState::BalanceDue),
            Ok(pb::PaymentState::Unspecified) | Err(_) => unknown_value(
                at,
                "PAYMENT_STATE_AWAITING_PAYMENT, PAYMENT_STATE_PAID, PAYMENT_STATE_FAILED, \
                 PAYMENT_STATE_REFUNDED, PAYMENT_STATE_BALANCE_DUE",
            ),
        }
    }
}

/// The wire form of the role a person acted in (`Role` is the kernel's, so not a [`Wire`] of
/// this crate).
pub(crate) fn role_to_proto(role: Role) -> i32 {
    let role = match role {
        Role::Guest => pb::Role::Guest,
        Role::Hotelier => pb::Role::Hotelier,
        Role::Admin => pb::Role::Admin,
        Role::Service => pb::Role::Service,
    };
    role.into()
}

/// A role from its wire form.
pub(crate) fn role_from_proto(proto: i32, at: &At<'_>) -> Result<Role> {
    match pb::Role::try_from(proto) {
        Ok(pb::Role::Guest) => Ok(Role::Guest),
        Ok(pb::Role::Hotelier) => Ok(Role::Hotelier),
        Ok(pb::Role::Admin) => Ok(Role::Admin),
        Ok(pb::Role::Service) => Ok(Role::Service),
        Ok(pb::Role::Unspecified) | Err(_) => {
            unknown_value(at, "ROLE_GUEST, ROLE_HOTELIER, ROLE_ADMIN, ROLE_SERVICE")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_value_round_trips_and_unspecified_names_its_field() {
        for status in BookingStatus::ALL {
            assert_eq!(
                BookingStatus::from_proto(status.to_proto(), &At::Name("s")),
                Ok(status)
            );
        }
        for rule in [
            RefundRule::NothingPaid,
            RefundRule::FreeCancellation,
            RefundRule::LateCancellation,
        ] {
            assert_eq!(RefundRule::from_proto(rule.to_proto(), &At::ROOT), Ok(rule));
        }
        assert_eq!(
            PriceRule::from_proto(PriceRule::Complimentary.to_proto(), &At::ROOT),
            Ok(PriceRule::Complimentary)
        );
        for state in PaymentState::ALL {
            assert_eq!(
                PaymentState::from_proto(state.to_proto(), &At::ROOT),
                Ok(state)
            );
        }
        for role in [Role::Guest, Role::Hotelier, Role::Admin] {
            assert_eq!(role_from_proto(role_to_proto(role), &At::ROOT), Ok(role));
        }
        let parent = At::Name("query");
        let err = BookingStatus::from_proto(0, &parent.field("status")).expect_err("unspecified");
        assert_eq!(err.errors[0].field, "query.status");
        let err = PaymentState::from_proto(99, &At::Name("payment")).expect_err("unknown");
        assert_eq!(err.errors[0].field, "payment");
    }

    #[test]
    fn booking_ids_keep_their_value_and_bad_ones_name_their_path() {
        let id = BookingId::new();
        assert_eq!(BookingId::from_proto(id.to_proto(), &At::ROOT), Ok(id));
        let items = At::Name("items");
        let item = At::Item(&items, 2);
        let err = BookingId::from_proto("nope".into(), &item.field("id")).expect_err("bad id");
        assert_eq!(err.errors[0].field, "items[2].id");
    }
}
