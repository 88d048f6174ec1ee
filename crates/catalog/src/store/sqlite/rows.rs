//! Conversions between rows and catalog values, and the mapping of SQLite errors.

use innkeeper_kernel::{Currency, Error, GeoPoint, Money, Result, StayDates};
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{Hold, HoldStatus, Hotel, Room, RoomStatus, RoomType};
use crate::store::StoredNight;

/// The columns [`hotel`] reads, prefixed by the table alias `h`.
macro_rules! hotel_columns {
    () => {
        "h.id, h.owner_id, h.name, h.description, h.address, h.city, h.country, h.lat, h.lon, h.stars, \
         h.currency, h.timezone, h.version, h.created_at, h.updated_at"
    };
}

/// The columns [`room_type`] reads (alias `rt`), with the active-room count computed.
macro_rules! room_type_columns {
    () => {
        "rt.id AS rt_id, rt.hotel_id AS rt_hotel_id, rt.name AS rt_name, rt.description AS rt_description, \
         rt.capacity, rt.beds, rt.amenities, rt.base_price, rt.currency AS rt_currency, rt.version AS rt_version, \
         (SELECT COUNT(*) FROM rooms r WHERE r.room_type_id = rt.id AND r.status != 'out_of_service') AS active_rooms"
    };
}

/// The columns [`room`] reads.
macro_rules! room_columns {
    () => {
        "id, hotel_id, room_type_id, number, floor, status, version"
    };
}

/// The columns [`hold`] reads.
macro_rules! hold_columns {
    () => {
        "id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at"
    };
}

pub(super) use {hold_columns, hotel_columns, room_columns, room_type_columns};

/// Any database failure not mapped to a domain error: logged, never shown.
pub(super) fn internal(err: sqlx::Error) -> Error {
    Error::internal(format!("catalog sqlite store: {err}"))
}

/// Whether the error is a UNIQUE or PRIMARY KEY violation.
pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// Whether the error is a CHECK violation.
pub(super) fn is_check_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_check_violation())
}

/// An instant as stored: microseconds since the epoch (PostgreSQL's precision).
pub(super) fn micros(at: OffsetDateTime) -> Result<i64> {
    i64::try_from((at.unix_timestamp_nanos()).div_euclid(1000))
        .map_err(|_| Error::invalid_request(format!("instant {at} is out of range")))
}

/// The instant stored as `micros`.
pub(super) fn instant(micros: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|e| Error::internal(format!("stored instant {micros} out of range: {e}")))
}

/// A stored count that must fit a `u32`.
pub(super) fn count(value: i64, what: &str) -> Result<u32> {
    u32::try_from(value)
        .map_err(|_| Error::internal(format!("stored {what} {value} is not a count")))
}

/// JSON text of a list column.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::internal(format!("cannot encode a list column: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::internal(format!("stored {what} is not valid JSON: {e}")))
}

fn currency(code: &str) -> Result<Currency> {
    Currency::parse_field("currency", code)
        .map_err(|_| Error::internal(format!("stored currency {code:?} is invalid")))
}

/// Reads a hotel from a row selected with [`hotel_columns!`].
pub(super) fn hotel(row: &SqliteRow) -> Result<Hotel> {
    let stars: Option<i64> = row.try_get("stars").map_err(internal)?;
    let stars = stars
        .map(|s| {
            u8::try_from(s).map_err(|_| Error::internal(format!("stored stars {s} out of range")))
        })
        .transpose()?;
    Ok(Hotel {
        id: row.try_get::<Uuid, _>("id").map_err(internal)?.into(),
        owner_id: row.try_get::<Uuid, _>("owner_id").map_err(internal)?.into(),
        name: row.try_get("name").map_err(internal)?,
        description: row.try_get("description").map_err(internal)?,
        address: row.try_get("address").map_err(internal)?,
        city: row.try_get("city").map_err(internal)?,
        country: row.try_get("country").map_err(internal)?,
        location: GeoPoint {
            lat: row.try_get("lat").map_err(internal)?,
            lon: row.try_get("lon").map_err(internal)?,
        },
        stars,
        currency: currency(row.try_get("currency").map_err(internal)?)?,
        timezone: row.try_get("timezone").map_err(internal)?,
        version: row.try_get("version").map_err(internal)?,
        created_at: instant(row.try_get("created_at").map_err(internal)?)?,
        updated_at: instant(row.try_get("updated_at").map_err(internal)?)?,
    })
}

/// Reads a room type from a row selected with [`room_type_columns!`].
pub(super) fn room_type(row: &SqliteRow) -> Result<RoomType> {
    let beds: String = row.try_get("beds").map_err(internal)?;
    let amenities: String = row.try_get("amenities").map_err(internal)?;
    Ok(RoomType {
        id: row.try_get::<Uuid, _>("rt_id").map_err(internal)?.into(),
        hotel_id: row
            .try_get::<Uuid, _>("rt_hotel_id")
            .map_err(internal)?
            .into(),
        name: row.try_get("rt_name").map_err(internal)?,
        description: row.try_get("rt_description").map_err(internal)?,
        capacity: count(row.try_get("capacity").map_err(internal)?, "capacity")?,
        beds: from_json(&beds, "beds")?,
        amenities: from_json(&amenities, "amenities")?,
        base_price: Money {
            amount: row.try_get("base_price").map_err(internal)?,
            currency: currency(row.try_get("rt_currency").map_err(internal)?)?,
        },
        active_rooms: count(
            row.try_get("active_rooms").map_err(internal)?,
            "active_rooms",
        )?,
        version: row.try_get("rt_version").map_err(internal)?,
    })
}

/// Reads a room from a row selected with [`room_columns!`].
pub(super) fn room(row: &SqliteRow) -> Result<Room> {
    let status: String = row.try_get("status").map_err(internal)?;
    Ok(Room {
        id: row.try_get::<Uuid, _>("id").map_err(internal)?.into(),
        hotel_id: row.try_get::<Uuid, _>("hotel_id").map_err(internal)?.into(),
        room_type_id: row
            .try_get::<Uuid, _>("room_type_id")
            .map_err(internal)?
            .into(),
        number: row.try_get("number").map_err(internal)?,
        floor: row.try_get("floor").map_err(internal)?,
        status: RoomStatus::parse(&status)
            .ok_or_else(|| Error::internal(format!("stored room status {status:?}")))?,
        version: row.try_get("version").map_err(internal)?,
    })
}

/// Reads a hold from a row selected with [`hold_columns!`].
pub(super) fn hold(row: &SqliteRow) -> Result<Hold> {
    let status: String = row.try_get("status").map_err(internal)?;
    Ok(Hold {
        id: row.try_get::<Uuid, _>("id").map_err(internal)?.into(),
        hotel_id: row.try_get::<Uuid, _>("hotel_id").map_err(internal)?.into(),
        room_type_id: row
            .try_get::<Uuid, _>("room_type_id")
            .map_err(internal)?
            .into(),
        stay: StayDates::from_stored(
            row.try_get("check_in").map_err(internal)?,
            row.try_get("check_out").map_err(internal)?,
        )?,
        quantity: count(row.try_get("quantity").map_err(internal)?, "quantity")?,
        status: HoldStatus::parse(&status)
            .ok_or_else(|| Error::internal(format!("stored hold status {status:?}")))?,
        expires_at: instant(row.try_get("expires_at").map_err(internal)?)?,
        created_at: instant(row.try_get("created_at").map_err(internal)?)?,
        updated_at: instant(row.try_get("updated_at").map_err(internal)?)?,
    })
}

/// Reads a night from a row with `night, total, held, sold, price, min_stay, rev`.
pub(super) fn night(row: &SqliteRow) -> Result<StoredNight> {
    let min_stay: Option<i64> = row.try_get("min_stay").map_err(internal)?;
    Ok(StoredNight {
        night: row.try_get("night").map_err(internal)?,
        total: count(row.try_get("total").map_err(internal)?, "total")?,
        held: count(row.try_get("held").map_err(internal)?, "held")?,
        sold: count(row.try_get("sold").map_err(internal)?, "sold")?,
        price: row.try_get("price").map_err(internal)?,
        min_stay: min_stay.map(|m| count(m, "min_stay")).transpose()?,
        rev: count(row.try_get("rev").map_err(internal)?, "rev").map(u64::from)?,
    })
}
