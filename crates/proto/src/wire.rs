//! The [`Wire`] conversion between a value and its protobuf form, for the kernel's values (ids,
//! dates, instants, money, points, stays): what every service's gRPC adapter shares. Each
//! adapter adds its own types (the catalog's enums, the booking's statuses) in its `wire`
//! module.
//!
//! Decoding names the offending field by its path in the message (`stay.check_in`,
//! `room_type.beds[1].kind`), so a malformed request fails with `validation_failed` like
//! invalid input does in-process. Values are decoded, not validated: range and business
//! checks stay in the service, so local and remote callers get the same answer.

use std::fmt;

use innkeeper_kernel::{
    Currency, Error, GeoPoint, HoldId, HotelId, Money, Result, RoomId, RoomTypeId, StayDates,
    UserId,
};
use time::{Date, OffsetDateTime};

use crate::common::v1 as common;

/// A value with a protobuf form.
pub trait Wire: Sized {
    /// The protobuf form (a message, a string, or an `i32` for enums).
    type Proto;
    /// Encodes the value.
    fn to_proto(&self) -> Self::Proto;
    /// Decodes a value found at the field path `at` of a message.
    fn from_proto(proto: Self::Proto, at: &At<'_>) -> Result<Self>;
}

/// Where a value sits in a message: the field path an error names (`stay.check_in`,
/// `offers[3].total.currency`). It is spelled out only when an error names it, so decoding a
/// valid message builds no strings for it.
#[derive(Debug, Clone, Copy)]
pub enum At<'a> {
    /// The top of a message (`""`), or a name the caller gives a value.
    Name(&'a str),
    /// Field `name` of the message at the first path.
    Field(&'a At<'a>, &'a str),
    /// Item `i` of the repeated field at the first path.
    Item(&'a At<'a>, usize),
}

impl At<'_> {
    /// The top of a message.
    pub const ROOT: At<'static> = At::Name("");

    /// Field `name` of the message here.
    pub fn field<'b>(&'b self, name: &'b str) -> At<'b> {
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
pub fn field<T: Wire>(at: &At<'_>, name: &str, proto: T::Proto) -> Result<T> {
    T::from_proto(proto, &at.field(name))
}

/// Decodes the message field `name`, which must be present.
pub fn required<T: Wire>(at: &At<'_>, name: &str, proto: Option<T::Proto>) -> Result<T> {
    let at = at.field(name);
    match proto {
        Some(proto) => T::from_proto(proto, &at),
        None => Err(Error::invalid_field(&at, "is required")),
    }
}

/// Decodes the field `name`, which may be absent.
pub fn optional<T: Wire>(at: &At<'_>, name: &str, proto: Option<T::Proto>) -> Result<Option<T>> {
    proto
        .map(|proto| T::from_proto(proto, &at.field(name)))
        .transpose()
}

/// Decodes the repeated field `name`; items are named `name[i]`.
pub fn list<T: Wire>(at: &At<'_>, name: &str, protos: Vec<T::Proto>) -> Result<Vec<T>> {
    let at = at.field(name);
    protos
        .into_iter()
        .enumerate()
        .map(|(i, proto)| T::from_proto(proto, &At::Item(&at, i)))
        .collect()
}

/// Encodes a list.
pub fn protos<T: Wire>(items: &[T]) -> Vec<T::Proto> {
    items.iter().map(Wire::to_proto).collect()
}

/// Encodes an optional value.
pub fn opt_proto<T: Wire>(item: Option<&T>) -> Option<T::Proto> {
    item.map(Wire::to_proto)
}

macro_rules! wire_id {
    ($($id:ty),*) => {$(
        impl Wire for $id {
            type Proto = String;
            fn to_proto(&self) -> String {
                let mut buf = uuid::Uuid::encode_buffer();
                self.as_uuid().hyphenated().encode_lower(&mut buf).to_owned()
            }
            fn from_proto(proto: String, at: &At<'_>) -> Result<Self> {
                <$id>::parse_field(at, &proto)
            }
        }
    )*};
}

wire_id!(HotelId, RoomTypeId, RoomId, HoldId, UserId);

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

impl Wire for GeoPoint {
    type Proto = common::GeoPoint;
    fn to_proto(&self) -> common::GeoPoint {
        common::GeoPoint {
            lat: self.lat,
            lon: self.lon,
        }
    }
    fn from_proto(proto: common::GeoPoint, _at: &At<'_>) -> Result<Self> {
        // The service checks the range and names the field as the caller knows it.
        Ok(GeoPoint {
            lat: proto.lat,
            lon: proto.lon,
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
pub fn unknown_value<T>(at: &At<'_>, allowed: &str) -> Result<T> {
    Err(Error::invalid_field(
        at,
        format!("must be one of {allowed}"),
    ))
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn dates_and_instants_keep_their_value() {
        for d in [
            date!(0001 - 01 - 01),
            date!(2024 - 02 - 29),
            date!(9999 - 12 - 31),
        ] {
            assert_eq!(Date::from_proto(d.to_proto(), &At::Name("d")), Ok(d));
        }
        assert_eq!(date!(0987 - 06 - 05).to_proto(), "0987-06-05");
        assert!(Date::from_proto("2026-02-30".into(), &At::Name("d")).is_err());
        let before_1970 = datetime!(1969-12-31 23:59:59.999_999_999 UTC);
        assert_eq!(
            OffsetDateTime::from_proto(before_1970.to_proto(), &At::Name("t")),
            Ok(before_1970)
        );
    }

    #[test]
    fn paths_name_nested_fields_and_items() {
        let root = At::ROOT;
        let offers = root.field("offers");
        let third = At::Item(&offers, 3);
        assert_eq!(
            third.field("total").field("currency").to_string(),
            "offers[3].total.currency"
        );
        assert_eq!(
            At::Name("stay").field("check_in").to_string(),
            "stay.check_in"
        );
        let error = StayDates::from_proto(
            common::StayDates {
                check_in: "2026-12-03".into(),
                check_out: "2026-12-01".into(),
            },
            &root.field("stay"),
        )
        .expect_err("reversed");
        assert_eq!(error.errors[0].field, "stay.check_out");
    }
}
