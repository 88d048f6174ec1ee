//! Rates, allotments and the night counters on PostgreSQL.
//!
//! Lock order, shared by every transaction that touches `room_nights`: first the room type's
//! row (KEY SHARE here, FOR UPDATE for room changes), then the nights of the range created in
//! one date-ordered insert, then the nights locked or updated one by one in date order. The
//! order is what keeps a hot room type free of deadlocks (stack-notes: inventory trap).
//! Creating the whole range before locking any night matters too: were one transaction to
//! interleave create and update per night while another creates its range first, each could
//! wait on the other (a row lock one way, an uncommitted insert the other).

use std::collections::HashMap;

use innkeeper_kernel::{Error, HotelId, Result, RoomTypeId};
use sqlx::{Postgres, Row as _, Transaction};
use time::Date;

use super::rows::{self, hotel_columns, room_type_columns};
use super::{PgCatalogStore, db_error};
use crate::store::{RoomTypeNights, SearchScope};

const LOCK_ROOM_TYPE_SHARED: &str =
    "SELECT hotel_id, name FROM room_types WHERE id = $1 FOR KEY SHARE";

// The rows come out of the series in date order, and are inserted in that order.
const MATERIALISE_NIGHTS: &str = "INSERT INTO room_nights (room_type_id, night, total) \
     SELECT $1, $2::date + i, (SELECT count(*) FROM rooms \
         WHERE room_type_id = $1 AND status <> 'out_of_service')::int \
     FROM generate_series(0, $3::date - $2::date - 1) AS i \
     ORDER BY i \
     ON CONFLICT (room_type_id, night) DO NOTHING";

// The lock node sits above the sort, so rows are locked in date order.
const LOCK_NIGHTS: &str = "SELECT night, held + sold AS used FROM room_nights \
     WHERE room_type_id = $1 AND night >= $2 AND night < $3 \
     ORDER BY night FOR NO KEY UPDATE";

const SET_RATES: &str = "UPDATE room_nights SET price = $4, min_stay = $5 \
     WHERE room_type_id = $1 AND night >= $2 AND night < $3";

const SET_INVENTORY: &str = "UPDATE room_nights SET total = $4, manual_total = true \
     WHERE room_type_id = $1 AND night >= $2 AND night < $3";

const NIGHTS_OF_TYPES: &str = "SELECT room_type_id, night, total, held, sold, price, min_stay FROM room_nights \
     WHERE room_type_id = ANY($1) AND night >= $2 AND night < $3 ORDER BY room_type_id, night";

const TYPES_IN_CITY: &str = concat!(
    "SELECT ",
    hotel_columns!(),
    ", ",
    room_type_columns!(),
    " FROM room_types rt JOIN hotels h ON h.id = rt.hotel_id \
     WHERE h.city_key = lower(btrim($1::text)) AND rt.capacity >= $2 \
     ORDER BY h.id, rt.base_price, rt.name COLLATE \"C\", rt.id"
);

const TYPES_IN_AREA: &str = concat!(
    "SELECT ",
    hotel_columns!(),
    ", ",
    room_type_columns!(),
    " FROM room_types rt JOIN hotels h ON h.id = rt.hotel_id \
     WHERE rt.capacity >= $1 AND h.lat BETWEEN $2::float8 AND $3::float8 \
       AND CASE WHEN $4::float8 <= $5::float8 THEN h.lon BETWEEN $4::float8 AND $5::float8 \
                ELSE h.lon >= $4::float8 OR h.lon <= $5::float8 END \
     ORDER BY h.id, rt.base_price, rt.name COLLATE \"C\", rt.id"
);

const TYPES_OF_HOTEL: &str = concat!(
    "SELECT ",
    hotel_columns!(),
    ", ",
    room_type_columns!(),
    " FROM room_types rt JOIN hotels h ON h.id = rt.hotel_id \
     WHERE h.id = $1 AND rt.capacity >= $2 \
     ORDER BY h.id, rt.base_price, rt.name COLLATE \"C\", rt.id"
);

/// Nights in `[from, to)`; zero when the range is empty.
pub(super) fn night_count(from: Date, to: Date) -> u32 {
    u32::try_from((to - from).whole_days()).unwrap_or(0)
}

/// Takes the room type's row in KEY SHARE mode (room changes wait); returns its hotel and name.
pub(super) async fn lock_room_type_shared(
    tx: &mut Transaction<'static, Postgres>,
    id: RoomTypeId,
) -> Result<(HotelId, String)> {
    let found: Option<(uuid::Uuid, String)> = sqlx::query_as(LOCK_ROOM_TYPE_SHARED)
        .bind(id.as_uuid())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    found
        .map(|(hotel, name)| (HotelId::from(hotel), name))
        .ok_or_else(|| Error::not_found("room type", id))
}

/// Creates the missing nights of `[from, to)` with the active-room count as their total.
pub(super) async fn materialise_nights(
    tx: &mut Transaction<'static, Postgres>,
    room_type_id: RoomTypeId,
    from: Date,
    to: Date,
) -> Result<()> {
    if from >= to {
        return Ok(());
    }
    sqlx::query(MATERIALISE_NIGHTS)
        .bind(room_type_id.as_uuid())
        .bind(from)
        .bind(to)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Materialises and locks `[from, to)` in date order; returns each night with `held + sold`.
async fn lock_range(
    tx: &mut Transaction<'static, Postgres>,
    room_type_id: RoomTypeId,
    from: Date,
    to: Date,
) -> Result<Vec<(Date, i32)>> {
    lock_room_type_shared(tx, room_type_id).await?;
    materialise_nights(tx, room_type_id, from, to).await?;
    sqlx::query_as(LOCK_NIGHTS)
        .bind(room_type_id.as_uuid())
        .bind(from)
        .bind(to)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)
}

impl PgCatalogStore {
    pub(super) async fn set_rates_impl(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
        price: i64,
        min_stay: Option<u32>,
    ) -> Result<u32> {
        let min_stay = min_stay
            .map(|m| i32::try_from(m).map_err(|_| Error::invalid_field("min_stay", "is too large")))
            .transpose()?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        lock_range(&mut tx, room_type_id, from, to).await?;
        if from < to {
            sqlx::query(SET_RATES)
                .bind(room_type_id.as_uuid())
                .bind(from)
                .bind(to)
                .bind(price)
                .bind(min_stay)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(night_count(from, to))
    }

    pub(super) async fn set_inventory_impl(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
        total: u32,
    ) -> Result<u32> {
        let total_i32 =
            i32::try_from(total).map_err(|_| Error::invalid_field("total", "is too large"))?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let nights = lock_range(&mut tx, room_type_id, from, to).await?;
        if let Some((night, used)) = nights.iter().find(|(_, used)| *used > total_i32) {
            return Err(Error::conflict(format!(
                "cannot set the allotment of {night} to {total}: {used} rooms are already held or sold"
            )));
        }
        if from < to {
            sqlx::query(SET_INVENTORY)
                .bind(room_type_id.as_uuid())
                .bind(from)
                .bind(to)
                .bind(total_i32)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(night_count(from, to))
    }

    pub(super) async fn room_type_nights_impl(
        &self,
        scope: &SearchScope,
        min_capacity: u32,
        from: Date,
        to: Date,
    ) -> Result<Vec<RoomTypeNights>> {
        let min_capacity = i32::try_from(min_capacity).unwrap_or(i32::MAX);
        let query = match scope {
            SearchScope::City(city) => sqlx::query(TYPES_IN_CITY)
                .bind(city.as_str())
                .bind(min_capacity),
            SearchScope::Area(area) => sqlx::query(TYPES_IN_AREA)
                .bind(min_capacity)
                .bind(area.min_lat)
                .bind(area.max_lat)
                .bind(area.min_lon)
                .bind(area.max_lon),
            SearchScope::Hotel(hotel_id) => sqlx::query(TYPES_OF_HOTEL)
                .bind(hotel_id.as_uuid())
                .bind(min_capacity),
        };
        let type_rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
        let mut found = Vec::with_capacity(type_rows.len());
        for row in &type_rows {
            found.push(RoomTypeNights {
                hotel: rows::hotel(row)?,
                room_type: rows::room_type(row)?,
                nights: Vec::new(),
            });
        }
        if found.is_empty() || from >= to {
            return Ok(found);
        }
        let ids: Vec<uuid::Uuid> = found.iter().map(|t| t.room_type.id.as_uuid()).collect();
        let night_rows = sqlx::query(NIGHTS_OF_TYPES)
            .bind(&ids)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let position: HashMap<uuid::Uuid, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        for row in &night_rows {
            let room_type_id: uuid::Uuid = row.try_get("room_type_id").map_err(db_error)?;
            if let Some(&i) = position.get(&room_type_id) {
                found[i].nights.push(rows::night(row)?);
            }
        }
        Ok(found)
    }
}
