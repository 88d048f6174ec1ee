//! Hotels and room types on PostgreSQL.

use innkeeper_kernel::{Error, HotelId, Result, RoomTypeId};
use sqlx::PgConnection;

use super::rows::{self, hotel_columns, room_type_columns};
use super::{PgCatalogStore, db_error, internal, violated_constraint};
use crate::api::{Hotel, RoomType};
use crate::store::HotelFilter;

const INSERT_HOTEL: &str = "INSERT INTO hotels (id, owner_id, name, description, address, city, country, lat, lon, \
     stars, currency, timezone, version, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

const GET_HOTEL: &str = concat!(
    "SELECT ",
    hotel_columns!(),
    " FROM hotels h WHERE h.id = $1"
);

const UPDATE_HOTEL: &str = concat!(
    "UPDATE hotels h SET owner_id = $3, name = $4, description = $5, address = $6, city = $7, country = $8, \
     lat = $9, lon = $10, stars = $11, currency = $12, timezone = $13, updated_at = $14, \
     version = h.version + 1 \
     WHERE h.id = $1 AND h.version = $2 RETURNING ",
    hotel_columns!()
);

const HOTEL_VERSION: &str = "SELECT version FROM hotels WHERE id = $1";

// One statement for every filter combination: PostgreSQL plans each execution with the actual
// parameters (custom plans) as long as that is cheaper than the generic plan, so the city and
// coordinate indexes are still used.
const LIST_HOTELS: &str = concat!(
    "SELECT ",
    hotel_columns!(),
    " FROM hotels h \
     WHERE ($1::text IS NULL OR h.city_key = lower(btrim($1::text))) \
       AND ($2::float8 IS NULL OR (h.lat BETWEEN $2::float8 AND $3::float8 \
            AND CASE WHEN $4::float8 <= $5::float8 THEN h.lon BETWEEN $4::float8 AND $5::float8 \
                     ELSE h.lon >= $4::float8 OR h.lon <= $5::float8 END)) \
       AND ($6::text IS NULL OR strpos(lower(h.name), lower($6::text)) > 0 \
            OR strpos(lower(h.city), lower($6::text)) > 0 \
            OR strpos(lower(h.description), lower($6::text)) > 0) \
       AND ($7::uuid IS NULL OR h.id > $7::uuid) \
     ORDER BY h.id LIMIT $8"
);

const INSERT_ROOM_TYPE: &str = "INSERT INTO room_types (id, hotel_id, name, description, capacity, beds, amenities, \
     base_price, currency, version, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8, $9, $10, now())";

const GET_ROOM_TYPE: &str = concat!(
    "SELECT ",
    room_type_columns!(),
    " FROM room_types rt WHERE rt.id = $1"
);

const LIST_ROOM_TYPES: &str = concat!(
    "SELECT ",
    room_type_columns!(),
    " FROM room_types rt WHERE rt.hotel_id = $1 ORDER BY rt.base_price, rt.name COLLATE \"C\", rt.id"
);

const UPDATE_ROOM_TYPE: &str = concat!(
    "UPDATE room_types rt SET name = $3, description = $4, capacity = $5, beds = $6::text::jsonb, \
     amenities = $7, base_price = $8, currency = $9, version = rt.version + 1 \
     WHERE rt.id = $1 AND rt.version = $2 RETURNING ",
    room_type_columns!()
);

const ROOM_TYPE_VERSION: &str = "SELECT version FROM room_types WHERE id = $1";

/// `u32` to an `integer` column.
fn to_i32(value: u32, field: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::invalid_field(field, "is too large"))
}

/// Beds as the JSON text the `jsonb` column is cast from.
fn beds_json(room_type: &RoomType) -> Result<String> {
    serde_json::to_string(&room_type.beds).map_err(internal)
}

/// After an update matched no row: `not_found` if the row is gone, else the current version.
pub(super) async fn missed_update(
    conn: &mut PgConnection,
    sql: &'static str,
    what: &str,
    id: uuid::Uuid,
) -> Error {
    match sqlx::query_scalar::<_, i64>(sql)
        .bind(id)
        .fetch_optional(conn)
        .await
    {
        Ok(Some(current)) => Error::version_mismatch(current),
        Ok(None) => Error::not_found(what, id),
        Err(err) => db_error(err),
    }
}

impl PgCatalogStore {
    pub(super) async fn insert_hotel_impl(&self, hotel: &Hotel) -> Result<()> {
        sqlx::query(INSERT_HOTEL)
            .bind(hotel.id.as_uuid())
            .bind(hotel.owner_id.as_uuid())
            .bind(&hotel.name)
            .bind(&hotel.description)
            .bind(&hotel.address)
            .bind(&hotel.city)
            .bind(&hotel.country)
            .bind(hotel.location.lat)
            .bind(hotel.location.lon)
            .bind(hotel.stars.map(i16::from))
            .bind(hotel.currency.as_str())
            .bind(&hotel.timezone)
            .bind(hotel.version)
            .bind(hotel.created_at)
            .bind(hotel.updated_at)
            .execute(&self.pool)
            .await
            .map_err(|err| match violated_constraint(&err) {
                Some("hotels_pkey") => {
                    Error::conflict(format!("hotel {} already exists", hotel.id))
                }
                _ => db_error(err),
            })?;
        Ok(())
    }

    pub(super) async fn get_hotel_impl(&self, id: HotelId) -> Result<Option<Hotel>> {
        let row = sqlx::query(GET_HOTEL)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(rows::hotel).transpose()
    }

    pub(super) async fn update_hotel_impl(
        &self,
        hotel: &Hotel,
        expected_version: i64,
    ) -> Result<Hotel> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let row = sqlx::query(UPDATE_HOTEL)
            .bind(hotel.id.as_uuid())
            .bind(expected_version)
            .bind(hotel.owner_id.as_uuid())
            .bind(&hotel.name)
            .bind(&hotel.description)
            .bind(&hotel.address)
            .bind(&hotel.city)
            .bind(&hotel.country)
            .bind(hotel.location.lat)
            .bind(hotel.location.lon)
            .bind(hotel.stars.map(i16::from))
            .bind(hotel.currency.as_str())
            .bind(&hotel.timezone)
            .bind(hotel.updated_at)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => rows::hotel(&row),
            None => Err(missed_update(&mut conn, HOTEL_VERSION, "hotel", hotel.id.as_uuid()).await),
        }
    }

    pub(super) async fn list_hotels_impl(&self, filter: &HotelFilter) -> Result<Vec<Hotel>> {
        let area = filter.area;
        let rows = sqlx::query(LIST_HOTELS)
            .bind(filter.city.as_deref())
            .bind(area.map(|a| a.min_lat))
            .bind(area.map(|a| a.max_lat))
            .bind(area.map(|a| a.min_lon))
            .bind(area.map(|a| a.max_lon))
            .bind(filter.text.as_deref())
            .bind(filter.after.map(|id| id.as_uuid()))
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(rows::hotel).collect()
    }

    pub(super) async fn insert_room_type_impl(&self, room_type: &RoomType) -> Result<()> {
        sqlx::query(INSERT_ROOM_TYPE)
            .bind(room_type.id.as_uuid())
            .bind(room_type.hotel_id.as_uuid())
            .bind(&room_type.name)
            .bind(&room_type.description)
            .bind(to_i32(room_type.capacity, "capacity")?)
            .bind(beds_json(room_type)?)
            .bind(room_type.amenities.as_slice())
            .bind(room_type.base_price.amount)
            .bind(room_type.base_price.currency.as_str())
            .bind(room_type.version)
            .execute(&self.pool)
            .await
            .map_err(|err| match violated_constraint(&err) {
                Some("room_types_pkey") => {
                    Error::conflict(format!("room type {} already exists", room_type.id))
                }
                Some("room_types_hotel_id_fkey") => Error::not_found("hotel", room_type.hotel_id),
                _ => db_error(err),
            })?;
        Ok(())
    }

    pub(super) async fn get_room_type_impl(&self, id: RoomTypeId) -> Result<Option<RoomType>> {
        let row = sqlx::query(GET_ROOM_TYPE)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(rows::room_type).transpose()
    }

    pub(super) async fn list_room_types_impl(&self, hotel_id: HotelId) -> Result<Vec<RoomType>> {
        let rows = sqlx::query(LIST_ROOM_TYPES)
            .bind(hotel_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(rows::room_type).collect()
    }

    pub(super) async fn update_room_type_impl(
        &self,
        room_type: &RoomType,
        expected_version: i64,
    ) -> Result<RoomType> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let row = sqlx::query(UPDATE_ROOM_TYPE)
            .bind(room_type.id.as_uuid())
            .bind(expected_version)
            .bind(&room_type.name)
            .bind(&room_type.description)
            .bind(to_i32(room_type.capacity, "capacity")?)
            .bind(beds_json(room_type)?)
            .bind(room_type.amenities.as_slice())
            .bind(room_type.base_price.amount)
            .bind(room_type.base_price.currency.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => rows::room_type(&row),
            None => Err(missed_update(
                &mut conn,
                ROOM_TYPE_VERSION,
                "room type",
                room_type.id.as_uuid(),
            )
            .await),
        }
    }
}
