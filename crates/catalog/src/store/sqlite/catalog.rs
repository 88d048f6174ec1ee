//! Hotels, room types and rooms.

use innkeeper_kernel::{Error, HotelId, Result, RoomId, RoomTypeId};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use super::nights::resync;
use super::rows::{
    self, hotel_columns, internal, is_unique_violation, micros, room_columns, room_type_columns,
    to_json,
};
use crate::api::{Hotel, Room, RoomType};
use crate::store::HotelFilter;

/// The key a city is matched by: trimmed and lower-cased (Unicode-aware, unlike SQLite's `lower`).
pub(super) fn city_key(city: &str) -> String {
    city.trim().to_lowercase()
}

/// What the free-text filter searches: name, city and description, lower-cased.
fn search_text(hotel: &Hotel) -> String {
    // The unit separator keeps a match from spanning two fields.
    format!(
        "{}\u{1f}{}\u{1f}{}",
        hotel.name, hotel.city, hotel.description
    )
    .to_lowercase()
}

pub(super) async fn insert_hotel(conn: &mut SqliteConnection, hotel: &Hotel) -> Result<()> {
    sqlx::query(
        "INSERT INTO hotels (id, owner_id, name, description, address, city, city_key, search_text, country, \
         lat, lon, stars, currency, timezone, version, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(hotel.id.0)
    .bind(hotel.owner_id.0)
    .bind(&hotel.name)
    .bind(&hotel.description)
    .bind(&hotel.address)
    .bind(&hotel.city)
    .bind(city_key(&hotel.city))
    .bind(search_text(hotel))
    .bind(&hotel.country)
    .bind(hotel.location.lat)
    .bind(hotel.location.lon)
    .bind(hotel.stars.map(i64::from))
    .bind(hotel.currency.as_str())
    .bind(&hotel.timezone)
    .bind(hotel.version)
    .bind(micros(hotel.created_at)?)
    .bind(micros(hotel.updated_at)?)
    .execute(conn)
    .await
    .map_err(|e| if is_unique_violation(&e) { Error::conflict(format!("hotel {} already exists", hotel.id)) } else { internal(e) })?;
    Ok(())
}

pub(super) async fn get_hotel(reader: &SqlitePool, id: HotelId) -> Result<Option<Hotel>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        hotel_columns!(),
        " FROM hotels h WHERE h.id = ?"
    ))
    .bind(id.0)
    .fetch_optional(reader)
    .await
    .map_err(internal)?;
    row.as_ref().map(rows::hotel).transpose()
}

pub(super) async fn update_hotel(
    conn: &mut SqliteConnection,
    hotel: &Hotel,
    expected_version: i64,
) -> Result<Hotel> {
    let done = sqlx::query(
        "UPDATE hotels SET owner_id = ?, name = ?, description = ?, address = ?, city = ?, city_key = ?, \
         search_text = ?, country = ?, lat = ?, lon = ?, stars = ?, currency = ?, timezone = ?, updated_at = ?, \
         version = version + 1 \
         WHERE id = ? AND version = ?",
    )
    .bind(hotel.owner_id.0)
    .bind(&hotel.name)
    .bind(&hotel.description)
    .bind(&hotel.address)
    .bind(&hotel.city)
    .bind(city_key(&hotel.city))
    .bind(search_text(hotel))
    .bind(&hotel.country)
    .bind(hotel.location.lat)
    .bind(hotel.location.lon)
    .bind(hotel.stars.map(i64::from))
    .bind(hotel.currency.as_str())
    .bind(&hotel.timezone)
    .bind(micros(hotel.updated_at)?)
    .bind(hotel.id.0)
    .bind(expected_version)
    .execute(&mut *conn)
    .await
    .map_err(internal)?;
    if done.rows_affected() == 0 {
        return Err(stale_or_missing(
            conn,
            "SELECT version FROM hotels WHERE id = ?",
            "hotel",
            hotel.id.0,
        )
        .await);
    }
    let mut updated = hotel.clone();
    updated.version = expected_version + 1;
    updated.updated_at = rows::instant(micros(hotel.updated_at)?)?;
    Ok(updated)
}

/// Why a versioned update matched no row: the object is absent, or its version moved on.
/// `version_sql` selects the current version by id.
async fn stale_or_missing(
    conn: &mut SqliteConnection,
    version_sql: &'static str,
    what: &str,
    id: uuid::Uuid,
) -> Error {
    match sqlx::query_scalar::<_, i64>(version_sql)
        .bind(id)
        .fetch_optional(conn)
        .await
    {
        Ok(Some(current)) => Error::version_mismatch(current),
        Ok(None) => Error::not_found(what, id),
        Err(e) => internal(e),
    }
}

pub(super) async fn list_hotels(reader: &SqlitePool, filter: &HotelFilter) -> Result<Vec<Hotel>> {
    let mut query = QueryBuilder::<Sqlite>::new(concat!(
        "SELECT ",
        hotel_columns!(),
        " FROM hotels h WHERE 1 = 1"
    ));
    if let Some(city) = &filter.city {
        query.push(" AND h.city_key = ").push_bind(city_key(city));
    }
    if let Some(area) = filter.area {
        query
            .push(" AND h.lat BETWEEN ")
            .push_bind(area.min_lat)
            .push(" AND ")
            .push_bind(area.max_lat);
        query
            .push(" AND h.lon BETWEEN ")
            .push_bind(area.min_lon)
            .push(" AND ")
            .push_bind(area.max_lon);
    }
    if let Some(text) = &filter.text {
        query
            .push(" AND instr(h.search_text, ")
            .push_bind(text.to_lowercase())
            .push(") > 0");
    }
    if let Some(after) = filter.after {
        query.push(" AND h.id > ").push_bind(after.0);
    }
    query
        .push(" ORDER BY h.id LIMIT ")
        .push_bind(i64::from(filter.limit));
    let found = query.build().fetch_all(reader).await.map_err(internal)?;
    found.iter().map(rows::hotel).collect()
}

pub(super) async fn insert_room_type(
    conn: &mut SqliteConnection,
    room_type: &RoomType,
) -> Result<()> {
    let hotel = sqlx::query_scalar::<_, i64>("SELECT 1 FROM hotels WHERE id = ?")
        .bind(room_type.hotel_id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(internal)?;
    if hotel.is_none() {
        return Err(Error::not_found("hotel", room_type.hotel_id));
    }
    sqlx::query(
        "INSERT INTO room_types (id, hotel_id, name, description, capacity, beds, amenities, base_price, currency, \
         version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, unixepoch('subsec') * 1000000)",
    )
    .bind(room_type.id.0)
    .bind(room_type.hotel_id.0)
    .bind(&room_type.name)
    .bind(&room_type.description)
    .bind(i64::from(room_type.capacity))
    .bind(to_json(&room_type.beds)?)
    .bind(to_json(&room_type.amenities)?)
    .bind(room_type.base_price.amount)
    .bind(room_type.base_price.currency.as_str())
    .bind(room_type.version)
    .execute(conn)
    .await
    .map_err(|e| if is_unique_violation(&e) { Error::conflict(format!("room type {} already exists", room_type.id)) } else { internal(e) })?;
    Ok(())
}

pub(super) async fn get_room_type(
    conn: &mut SqliteConnection,
    id: RoomTypeId,
) -> Result<Option<RoomType>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        room_type_columns!(),
        " FROM room_types rt WHERE rt.id = ?"
    ))
    .bind(id.0)
    .fetch_optional(conn)
    .await
    .map_err(internal)?;
    row.as_ref().map(rows::room_type).transpose()
}

pub(super) async fn list_room_types(
    reader: &SqlitePool,
    hotel_id: HotelId,
) -> Result<Vec<RoomType>> {
    let found = sqlx::query(concat!(
        "SELECT ",
        room_type_columns!(),
        " FROM room_types rt WHERE rt.hotel_id = ? ORDER BY rt.base_price, rt.name, rt.id"
    ))
    .bind(hotel_id.0)
    .fetch_all(reader)
    .await
    .map_err(internal)?;
    found.iter().map(rows::room_type).collect()
}

pub(super) async fn update_room_type(
    conn: &mut SqliteConnection,
    room_type: &RoomType,
    expected_version: i64,
) -> Result<RoomType> {
    let done = sqlx::query(
        "UPDATE room_types SET name = ?, description = ?, capacity = ?, beds = ?, amenities = ?, base_price = ?, \
         currency = ?, version = version + 1 \
         WHERE id = ? AND version = ?",
    )
    .bind(&room_type.name)
    .bind(&room_type.description)
    .bind(i64::from(room_type.capacity))
    .bind(to_json(&room_type.beds)?)
    .bind(to_json(&room_type.amenities)?)
    .bind(room_type.base_price.amount)
    .bind(room_type.base_price.currency.as_str())
    .bind(room_type.id.0)
    .bind(expected_version)
    .execute(&mut *conn)
    .await
    .map_err(internal)?;
    if done.rows_affected() == 0 {
        return Err(stale_or_missing(
            conn,
            "SELECT version FROM room_types WHERE id = ?",
            "room type",
            room_type.id.0,
        )
        .await);
    }
    get_room_type(conn, room_type.id).await?.ok_or_else(|| {
        Error::internal(format!(
            "room type {} vanished during its update",
            room_type.id
        ))
    })
}

/// The room type a room would belong to, which must exist.
async fn require_room_type(conn: &mut SqliteConnection, id: RoomTypeId) -> Result<()> {
    let found = sqlx::query_scalar::<_, i64>("SELECT 1 FROM room_types WHERE id = ?")
        .bind(id.0)
        .fetch_optional(conn)
        .await
        .map_err(internal)?;
    found
        .map(|_| ())
        .ok_or_else(|| Error::not_found("room type", id))
}

/// Maps a failed room write: a duplicate number is the client's conflict.
fn room_write_error(err: sqlx::Error, room: &Room) -> Error {
    if is_unique_violation(&err) {
        // The primary key is a UUID the service generates, so the duplicate is the number.
        Error::conflict(format!(
            "room number {} already exists in this hotel",
            room.number
        ))
    } else if err
        .as_database_error()
        .is_some_and(|e| e.is_foreign_key_violation())
    {
        Error::not_found("hotel", room.hotel_id)
    } else {
        internal(err)
    }
}

pub(super) async fn insert_room(conn: &mut SqliteConnection, room: &Room) -> Result<()> {
    require_room_type(conn, room.room_type_id).await?;
    sqlx::query("INSERT INTO rooms (id, hotel_id, room_type_id, number, floor, status, version) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(room.id.0)
        .bind(room.hotel_id.0)
        .bind(room.room_type_id.0)
        .bind(&room.number)
        .bind(room.floor)
        .bind(room.status.as_str())
        .bind(room.version)
        .execute(&mut *conn)
        .await
        .map_err(|e| room_write_error(e, room))?;
    resync(conn, room.hotel_id, room.room_type_id).await
}

pub(super) async fn get_room(conn: &mut SqliteConnection, id: RoomId) -> Result<Option<Room>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        room_columns!(),
        " FROM rooms WHERE id = ?"
    ))
    .bind(id.0)
    .fetch_optional(conn)
    .await
    .map_err(internal)?;
    row.as_ref().map(rows::room).transpose()
}

pub(super) async fn list_rooms(reader: &SqlitePool, hotel_id: HotelId) -> Result<Vec<Room>> {
    let found = sqlx::query(concat!(
        "SELECT ",
        room_columns!(),
        " FROM rooms WHERE hotel_id = ? ORDER BY floor, number, id"
    ))
    .bind(hotel_id.0)
    .fetch_all(reader)
    .await
    .map_err(internal)?;
    found.iter().map(rows::room).collect()
}

pub(super) async fn update_room(
    conn: &mut SqliteConnection,
    room: &Room,
    expected_version: i64,
) -> Result<Room> {
    let Some(before) = get_room(conn, room.id).await? else {
        return Err(Error::not_found("room", room.id));
    };
    if before.version != expected_version {
        return Err(Error::version_mismatch(before.version));
    }
    require_room_type(conn, room.room_type_id).await?;
    let done = sqlx::query(
        "UPDATE rooms SET hotel_id = ?, room_type_id = ?, number = ?, floor = ?, status = ?, version = version + 1 \
         WHERE id = ? AND version = ?",
    )
    .bind(room.hotel_id.0)
    .bind(room.room_type_id.0)
    .bind(&room.number)
    .bind(room.floor)
    .bind(room.status.as_str())
    .bind(room.id.0)
    .bind(expected_version)
    .execute(&mut *conn)
    .await
    .map_err(|e| room_write_error(e, room))?;
    if done.rows_affected() == 0 {
        return Err(stale_or_missing(
            conn,
            "SELECT version FROM rooms WHERE id = ?",
            "room",
            room.id.0,
        )
        .await);
    }
    resync(conn, before.hotel_id, before.room_type_id).await?;
    if room.room_type_id != before.room_type_id {
        resync(conn, room.hotel_id, room.room_type_id).await?;
    }
    Ok(Room {
        version: expected_version + 1,
        ..room.clone()
    })
}
