//! The [`Wire`] conversion between a value and its protobuf form, for the kernel's values (ids,
//! dates, instants, money, stays) and the booking's enums.
//!
//! Decoding names the offending field by its path in the message (`booking.check_in`,
//! `patch.room_type_id`, `items[3].stay.check_out`), so a malformed request fails with
//! `validation_failed` like invalid input does in-process. Values are decoded, not validated:
//! range and business checks stay in the service, so local and remote callers get the same
//! answer. (The catalog's adapter has the same helpers; each adapter keeps its own so the
//! services' crates stay independent.)

use std::fmt;

use innkeeper_kernel::{
    Currency, Error, HoldId, HotelId, Money, Result, Role, RoomId, RoomTypeId, StayDates, UserId,
};
use innkeeper_proto::{booking::v1 as pb, common::v1 as common};
use time::{Date, OffsetDateTime};

use crate::api::{BookingId, BookingStatus, PaymentState, PriceRule, RefundRule};

/// A value with a protobuf form.
pub(crate) trait Wire: Sized {
    /// The protobuf form (a message, a string, or an `i32` for enums).
    type Proto;
    /// Encodes the value.
    fn to_proto(&self) -> Self::Proto;
    /// Decodes a value found at the field path `at` of a message.
    fn from_proto(proto: Self::Proto, at: &At<'_>) -> Result<Self>;
}

/// Where a value sits in a message: the field path an error names (`booking.check_in`,
/// `items[3].price.total`). It is spelled out only when an error names it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum At<'a> {
    /// The top of a message (`""`), or a name the caller gives a value.
    Name(&'a str),
    /// Field `name` of the message at the first path.
    Field(&'a At<'a>, &'a str),
    /// Item `i` of the repeated field at the first path.
    Item(&'a At<'a>, usize),
}

impl At<'_> {
    /// The top of a message.
    pub(crate) const ROOT: At<'static> = At::Name("");

    /// Field `name` of the message here.
    pub(crate) fn field<'b>(&'b self, name: &'b str) -> At<'b> {
        At::Field(self, name)
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Name(name) => f.write_str(name),
            At::Field(At::Name(""), name) => f.write_str(name),
            At::Field(parent, name) => write!(f, "{parent}.{name}"),
            At::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

impl From<&At<'_>> for String {
    fn from(at: &At<'_>) -> String {
        at.to_string()
    }
}

/// Decodes the scalar field `name`.
pub(crate) fn field<T: Wire>(at: &At<'_>, name: &str, proto: T::Proto) -> Result<T> {
    T::from_proto(proto, &at.field(name))
}

/// Decodes the message field `name`, which must be present.
pub(crate) fn required<T: Wire>(at: &At<'_>, name: &str, proto: Option<T::Proto>) -> Result<T> {
    let at = at.field(name);
    match proto {
        Some(proto) => T::from_proto(proto, &at),
        None => Err(Error::invalid_field(&at, "is required")),
    }
}

/// Decodes the field `name`, which may be absent.
pub(crate) fn optional<T: Wire>(
    at: &At<'_>,
    name: &str,
    proto: Option<T::Proto>,
) -> Result<Option<T>> {
    proto
        .map(|proto| T::from_proto(proto, &at.field(name)))
        .transpose()
}

/// Decodes the repeated field `name`; items are named `name[i]`.
pub(crate) fn list<T: Wire>(at: &At<'_>, name: &str, protos: Vec<T::Proto>) -> Result<Vec<T>> {
    let at = at.field(name);
    protos
        .into_iter()
        .enumerate()
        .map(|(i, proto)| T::from_proto(proto, &At::Item(&at, i)))
        .collect()
}

/// Encodes a list.
pub(crate) fn protos<T: Wire>(items: &[T]) -> Vec<T::Proto> {
    items.iter().map(Wire::to_proto).collect()
}

/// Encodes an optional value.
pub(crate) fn opt_proto<T: Wire>(item: Option<&T>) -> Option<T::Proto> {
    item.map(Wire::to_proto)
}

/// The lower-case hyphenated text of a UUID.
fn uuid_text(uuid: uuid::Uuid) -> String {
    let mut buf = uuid::Uuid::encode_buffer();
    uuid.hyphenated().encode_lower(&mut buf).to_owned()
}

macro_rules! wire_id {
    ($($id:ty),*) => {$(
        impl Wire for $id {
            type Proto = String;
            fn to_proto(&self) -> String {
                uuid_text(self.as_uuid())
            }
            fn from_proto(proto: String, at: &At<'_>) -> Result<Self> {
                <$id>::parse_field(at, &proto)
            }
        }
    )*};
}

wire_id!(HotelId, RoomTypeId, RoomId, HoldId, UserId);

impl Wire for BookingId {
    type Proto = String;
    fn to_proto(&self) -> String {
        uuid_text(self.as_uuid())
    }
    fn from_proto(proto: String, at: &At<'_>) -> Result<Self> {
        BookingId::parse_field(&at.to_string(), &proto)
    }
}

/// The wire form of dates: `YYYY-MM-DD`.
impl Wire for Date {
    type Proto = String;
    fn to_proto(&self) -> String {
        match innkeeper_kernel::iso_date(*self) {
            Some(text) => std::str::from_utf8(&text).unwrap_or_default().to_owned(),
            None => format!(
                "{:04}-{:02}-{:02}",
                self.year(),
                u8::from(self.month()),
                self.day()
            ),
        }
    }
    fn from_proto(proto: String, at: &At<'_>) -> Result<Self> {
        innkeeper_kernel::parse_iso_date(&proto)
            .ok_or_else(|| Error::invalid_field(at, "must be a date YYYY-MM-DD"))
    }
}

impl Wire for OffsetDateTime {
    type Proto = prost_types::Timestamp;
    fn to_proto(&self) -> prost_types::Timestamp {
        // A nanosecond of a second is below 10^9, so it always fits.
        prost_types::Timestamp {
            seconds: self.unix_timestamp(),
            nanos: i32::try_from(self.nanosecond()).unwrap_or(0),
        }
    }
    fn from_proto(proto: prost_types::Timestamp, at: &At<'_>) -> Result<Self> {
        let nanos = i128::from(proto.seconds) * 1_000_000_000 + i128::from(proto.nanos);
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|_| Error::invalid_field(at, "is out of range"))
    }
}

impl Wire for Currency {
    type Proto = String;
    fn to_proto(&self) -> String {
        self.as_str().to_owned()
    }
    fn from_proto(proto: String, at: &At<'_>) -> Result<Self> {
        Currency::parse_field(at, &proto)
    }
}

impl Wire for Money {
    type Proto = common::Money;
    fn to_proto(&self) -> common::Money {
        common::Money {
            amount: self.amount,
            currency: self.currency.to_proto(),
        }
    }
    fn from_proto(proto: common::Money, at: &At<'_>) -> Result<Self> {
        Ok(Money {
            amount: proto.amount,
            currency: field(at, "currency", proto.currency)?,
        })
    }
}

impl Wire for StayDates {
    type Proto = common::StayDates;
    fn to_proto(&self) -> common::StayDates {
        common::StayDates {
            check_in: self.check_in().to_proto(),
            check_out: self.check_out().to_proto(),
        }
    }
    fn from_proto(proto: common::StayDates, at: &At<'_>) -> Result<Self> {
        let check_in: Date = field(at, "check_in", proto.check_in)?;
        let check_out: Date = field(at, "check_out", proto.check_out)?;
        if check_out <= check_in {
            return Err(Error::invalid_field(
                &at.field("check_out"),
                "must be after check_in",
            ));
        }
        StayDates::from_stored(check_in, check_out)
    }
}

impl Wire for u8 {
    type Proto = u32;
    fn to_proto(&self) -> u32 {
        u32::from(*self)
    }
    fn from_proto(proto: u32, at: &At<'_>) -> Result<Self> {
        u8::try_from(proto).map_err(|_| Error::invalid_field(at, "must be at most 255"))
    }
}

/// The error for an enum field that is unspecified or holds a value this build does not know.
fn unknown_value<T>(at: &At<'_>, allowed: &str) -> Result<T> {
    Err(Error::invalid_field(
        at,
        format!("must be one of {allowed}"),
    ))
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
        };
        state.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::PaymentState::try_from(proto) {
            Ok(pb::PaymentState::AwaitingPayment) => Ok(PaymentState::AwaitingPayment),
            Ok(pb::PaymentState::Paid) => Ok(PaymentState::Paid),
            Ok(pb::PaymentState::Failed) => Ok(PaymentState::Failed),
            Ok(pb::PaymentState::Refunded) => Ok(PaymentState::Refunded),
            Ok(pb::PaymentState::Unspecified) | Err(_) => unknown_value(
                at,
                "PAYMENT_STATE_AWAITING_PAYMENT, PAYMENT_STATE_PAID, PAYMENT_STATE_FAILED, \
                 PAYMENT_STATE_REFUNDED",
            ),
        }
    }
}

impl Wire for Role {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let role = match self {
            Role::Guest => pb::Role::Guest,
            Role::Hotelier => pb::Role::Hotelier,
            Role::Admin => pb::Role::Admin,
            Role::Service => pb::Role::Service,
        };
        role.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
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
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

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
            assert_eq!(Role::from_proto(role.to_proto(), &At::ROOT), Ok(role));
        }
        let parent = At::Name("query");
        let err = BookingStatus::from_proto(0, &parent.field("status")).expect_err("unspecified");
        assert_eq!(err.errors[0].field, "query.status");
        let err = PaymentState::from_proto(99, &At::Name("payment")).expect_err("unknown");
        assert_eq!(err.errors[0].field, "payment");
    }

    #[test]
    fn values_keep_their_value_and_bad_ones_name_their_path() {
        for d in [
            date!(0001 - 01 - 01),
            date!(2024 - 02 - 29),
            date!(9999 - 12 - 31),
        ] {
            assert_eq!(Date::from_proto(d.to_proto(), &At::ROOT), Ok(d));
        }
        let instant = datetime!(1969-12-31 23:59:59.999_999_999 UTC);
        assert_eq!(
            OffsetDateTime::from_proto(instant.to_proto(), &At::ROOT),
            Ok(instant)
        );
        let id = BookingId::new();
        assert_eq!(BookingId::from_proto(id.to_proto(), &At::ROOT), Ok(id));
        let items = At::Name("items");
        let item = At::Item(&items, 2);
        let err = BookingId::from_proto("nope".into(), &item.field("id")).expect_err("bad id");
        assert_eq!(err.errors[0].field, "items[2].id");
        let err = StayDates::from_proto(
            common::StayDates {
                check_in: "2027-02-10".into(),
                check_out: "2027-02-10".into(),
            },
            &At::Name("stay"),
        )
        .expect_err("empty stay");
        assert_eq!(err.errors[0].field, "stay.check_out");
        assert!(u8::from_proto(256, &At::Name("percent")).is_err());
    }
}
