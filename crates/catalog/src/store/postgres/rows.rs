//! Column lists and row decoding shared by the PostgreSQL queries.
//!
//! Hotels (`h`) and room types (`rt`) are selected with prefixed aliases (`h_*`, `rt_*`), so
//! one decoder serves single-table and joined queries alike; rooms and holds are always read
//! alone and keep their column names.

use innkeeper_kernel::{Currency, GeoPoint, Result, StayDates};
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::internal;
use crate::api::{Bed, Hold, HoldStatus, Hotel, Room, RoomStatus, RoomType};
use crate::store::StoredNight;

/// The hotel columns of `hotels h`.
macro_rules! hotel_columns {
    () => {
        "h.id AS h_id, h.owner_id AS h_owner_id, h.name AS h_name, h.description AS h_description, \
         h.address AS h_address, h.city AS h_city, h.country AS h_country, h.lat AS h_lat, \
         h.lon AS h_lon, h.stars AS h_stars, h.currency AS h_currency, h.timezone AS h_timezone, \
         h.version AS h_version, h.created_at AS h_created_at, h.updated_at AS h_updated_at"
    };
}

/// The room type columns of `room_types rt`, with its active-room count.
macro_rules! room_type_columns {
    () => {
        "rt.id AS rt_id, rt.hotel_id AS rt_hotel_id, rt.name AS rt_name, \
         rt.description AS rt_description, rt.capacity AS rt_capacity, rt.beds::text AS rt_beds, \
         rt.amenities AS rt_amenities, rt.base_price AS rt_base_price, rt.currency AS rt_currency, \
         rt.version AS rt_version, \
         (SELECT count(*) FROM rooms r WHERE r.room_type_id = rt.id AND r.status <> 'out_of_service') \
         AS rt_active_rooms"
    };
}

/// The columns of `rooms`.
macro_rules! room_columns {
    () => {
        "id, hotel_id, room_type_id, number, floor, status, version"
    };
}

/// The columns of `holds`.
macro_rules! hold_columns {
    () => {
        "id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at"
    };
}

pub(super) use {hold_columns, hotel_columns, room_columns, room_type_columns};

/// Reads one column, turning a decoding failure into an internal error.
fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(internal)
}

/// A stored non-negative integer as `u32`.
fn get_u32(row: &PgRow, column: &str) -> Result<u32> {
    let value: i32 = get(row, column)?;
    u32::try_from(value).map_err(|_| internal(format!("{column} is negative: {value}")))
}

fn currency(code: &str) -> Result<Currency> {
    Currency::parse_field("currency", code)
        .map_err(|_| internal(format!("stored currency {code:?} is invalid")))
}

/// Decodes the `h_*` columns.
pub(super) fn hotel(row: &PgRow) -> Result<Hotel> {
    let stars: Option<i16> = get(row, "h_stars")?;
    let stars = stars
        .map(|s| u8::try_from(s).map_err(|_| internal(format!("stored stars {s} out of range"))))
        .transpose()?;
    let currency_code: String = get(row, "h_currency")?;
    Ok(Hotel {
        id: get::<uuid::Uuid>(row, "h_id")?.into(),
        owner_id: get::<uuid::Uuid>(row, "h_owner_id")?.into(),
        name: get(row, "h_name")?,
        description: get(row, "h_description")?,
        address: get(row, "h_address")?,
        city: get(row, "h_city")?,
        country: get(row, "h_country")?,
        // Stored coordinates were checked on the way in.
        location: GeoPoint {
            lat: get(row, "h_lat")?,
            lon: get(row, "h_lon")?,
        },
        stars,
        currency: currency(&currency_code)?,
        timezone: get(row, "h_timezone")?,
        version: get(row, "h_version")?,
        created_at: get(row, "h_created_at")?,
        updated_at: get(row, "h_updated_at")?,
    })
}

/// Decodes the `rt_*` columns.
pub(super) fn room_type(row: &PgRow) -> Result<RoomType> {
    let beds: String = get(row, "rt_beds")?;
    let beds: Vec<Bed> = serde_json::from_str(&beds).map_err(internal)?;
    let currency_code: String = get(row, "rt_currency")?;
    let active_rooms: i64 = get(row, "rt_active_rooms")?;
    Ok(RoomType {
        id: get::<uuid::Uuid>(row, "rt_id")?.into(),
        hotel_id: get::<uuid::Uuid>(row, "rt_hotel_id")?.into(),
        name: get(row, "rt_name")?,
        description: get(row, "rt_description")?,
        capacity: get_u32(row, "rt_capacity")?,
        beds,
        amenities: get(row, "rt_amenities")?,
        base_price: innkeeper_kernel::Money {
            amount: get(row, "rt_base_price")?,
            currency: currency(&currency_code)?,
        },
        active_rooms: u32::try_from(active_rooms).map_err(internal)?,
        version: get(row, "rt_version")?,
    })
}

/// Decodes a `rooms` row.
pub(super) fn room(row: &PgRow) -> Result<Room> {
    let status: String = get(row, "status")?;
    Ok(Room {
        id: get::<uuid::Uuid>(row, "id")?.into(),
        hotel_id: get::<uuid::Uuid>(row, "hotel_id")?.into(),
        room_type_id: get::<uuid::Uuid>(row, "room_type_id")?.into(),
        number: get(row, "number")?,
        floor: get(row, "floor")?,
        status: RoomStatus::parse(&status)
            .ok_or_else(|| internal(format!("stored room status {status:?}")))?,
        version: get(row, "version")?,
    })
}

/// Decodes a `holds` row.
pub(super) fn hold(row: &PgRow) -> Result<Hold> {
    let status: String = get(row, "status")?;
    Ok(Hold {
        id: get::<uuid::Uuid>(row, "id")?.into(),
        hotel_id: get::<uuid::Uuid>(row, "hotel_id")?.into(),
        room_type_id: get::<uuid::Uuid>(row, "room_type_id")?.into(),
        stay: StayDates::from_stored(get(row, "check_in")?, get(row, "check_out")?)?,
        quantity: get_u32(row, "quantity")?,
        status: HoldStatus::parse(&status)
            .ok_or_else(|| internal(format!("stored hold status {status:?}")))?,
        expires_at: get(row, "expires_at")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

/// Decodes a `room_nights` row (`night, total, held, sold, price, min_stay, rev`).
pub(super) fn night(row: &PgRow) -> Result<StoredNight> {
    let min_stay: Option<i32> = get(row, "min_stay")?;
    Ok(StoredNight {
        night: get(row, "night")?,
        total: get_u32(row, "total")?,
        held: get_u32(row, "held")?,
        sold: get_u32(row, "sold")?,
        price: get(row, "price")?,
        min_stay: min_stay
            .map(|m| u32::try_from(m).map_err(internal))
            .transpose()?,
        rev: u64::try_from(get::<i64>(row, "rev")?).map_err(internal)?,
    })
}
