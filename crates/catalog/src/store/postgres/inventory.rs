//! Rates, allotments and the night counters on PostgreSQL.
//!
//! Lock order, shared by every transaction that touches `room_nights`: first the room type's
//! row (KEY SHARE here, FOR UPDATE for room changes), then the nights of the range created in
//! one date-ordered insert, then the nights locked or updated in date order (one statement
//! per range for rates and allotments, one per night for holds). The order is what keeps a hot
//! room type free of deadlocks (stack-notes: inventory trap). Creating the whole range before
//! locking any night matters too: were one transaction to interleave create and update per
//! night while another creates its range first, each could wait on the other (a row lock one
//! way, an uncommitted insert the other).

use std::collections::HashMap;

use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HotelId, Result, RoomTypeId};
use sqlx::{Postgres, Row as _, Transaction};
use time::Date;

use super::rows::{self, hotel_columns, room_type_columns};
use super::{PgCatalogStore, db_error, internal};
use crate::store::{RoomTypeNights, SearchScope, events};

const LOCK_ROOM_TYPE_SHARED: &str =
    "SELECT hotel_id, name FROM room_types WHERE id = $1 FOR KEY SHARE";

// The rows come out of the series in date order, and are inserted in that order.
const MATERIALISE_NIGHTS: &str = "INSERT INTO room_nights (room_type_id, night, total) \
     SELECT $1, $2::date + i, (SELECT count(*) FROM rooms \
         WHERE room_type_id = $1 AND status <> 'out_of_service')::int \
     FROM generate_series(0, $3::date - $2::date - 1) AS i \
     ORDER BY i \
     ON CONFLICT (room_type_id, night) DO NOTHING";

// After `MATERIALISE_NIGHTS` every night of the range exists, so these upserts only ever take
// their update branch: one statement that locks and writes the nights in the series' (date)
// order. They are not used to create rows: an upsert that locked one existing night and then
// met another transaction's uncommitted insert of the next would wait while holding a lock
// that transaction (a hold, which creates first and locks after) may need.
const SET_RATES: &str = "INSERT INTO room_nights AS rn (room_type_id, night, total, price, min_stay) \
     SELECT $1, $2::date + i, (SELECT count(*) FROM rooms \
         WHERE room_type_id = $1 AND status <> 'out_of_service')::int, $4, $5 FROM generate_series(0, $3::date - $2::date - 1) AS i ORDER BY i \
     ON CONFLICT (room_type_id, night) DO UPDATE SET price = excluded.price, min_stay = excluded.min_stay";

// A night where the new total is below `held + sold` keeps its row (still locked) and is not
// returned; the caller then refuses the whole range and rolls back.
const SET_INVENTORY: &str = "INSERT INTO room_nights AS rn (room_type_id, night, total, manual_total) \
     SELECT $1, $2::date + i, $4, true FROM generate_series(0, $3::date - $2::date - 1) AS i ORDER BY i \
     ON CONFLICT (room_type_id, night) DO UPDATE SET total = excluded.total, manual_total = true \
     WHERE rn.held + rn.sold <= excluded.total \
     RETURNING night";

// The first night of the range where `held + sold` exceeds a total (rows locked by the caller).
const FIRST_OVERBOOKED: &str = "SELECT night, held + sold AS used FROM room_nights \
     WHERE room_type_id = $1 AND night >= $2 AND night < $3 AND held + sold > $4 \
     ORDER BY night LIMIT 1";

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

const TYPES_OF_ROOM_TYPE: &str = concat!(
    "SELECT ",
    hotel_columns!(),
    ", ",
    room_type_columns!(),
    " FROM room_types rt JOIN hotels h ON h.id = rt.hotel_id \
     WHERE rt.id = $1 AND rt.capacity >= $2"
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

/// Takes the room type's lock and creates the missing nights of `[from, to)`.
async fn prepare_range(
    tx: &mut Transaction<'static, Postgres>,
    room_type_id: RoomTypeId,
    from: Date,
    to: Date,
) -> Result<()> {
    lock_room_type_shared(tx, room_type_id).await?;
    materialise_nights(tx, room_type_id, from, to).await
}

/// The number of nights a range write touched: one row per night of `[from, to)`.
fn written(rows: u64, from: Date, to: Date) -> Result<u32> {
    let expected = night_count(from, to);
    if rows != u64::from(expected) {
        return Err(internal(format!(
            "a range write over {from}..{to} touched {rows} nights, not {expected}"
        )));
    }
    Ok(expected)
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
        prepare_range(&mut tx, room_type_id, from, to).await?;
        if from >= to {
            return Ok(0);
        }
        let done = sqlx::query(SET_RATES)
            .bind(room_type_id.as_uuid())
            .bind(from)
            .bind(to)
            .bind(price)
            .bind(min_stay)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let nights = written(done.rows_affected(), from, to)?;
        tx.commit().await.map_err(db_error)?;
        Ok(nights)
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
        let (hotel_id, _) = lock_room_type_shared(&mut tx, room_type_id).await?;
        materialise_nights(&mut tx, room_type_id, from, to).await?;
        if from >= to {
            return Ok(0);
        }
        let set: Vec<Date> = sqlx::query_scalar(SET_INVENTORY)
            .bind(room_type_id.as_uuid())
            .bind(from)
            .bind(to)
            .bind(total_i32)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        if set.len() as u64 != u64::from(night_count(from, to)) {
            let first: Option<(Date, i32)> = sqlx::query_as(FIRST_OVERBOOKED)
                .bind(room_type_id.as_uuid())
                .bind(from)
                .bind(to)
                .bind(total_i32)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            // Dropping `tx` rolls back the nights already set: all or nothing.
            let _ = tx.rollback().await;
            return Err(match first {
                Some((night, used)) => Error::conflict(format!(
                    "cannot set the allotment of {night} to {total}: {used} rooms are already held or sold"
                )),
                None => internal(format!(
                    "the allotment of {from}..{to} skipped nights that are not overbooked"
                )),
            });
        }
        Outbox::append(
            &mut *tx,
            &events::allotment_set(room_type_id, hotel_id, from, to)?,
        )
        .await
        .map_err(events::append_failed)?;
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
            SearchScope::RoomType(room_type_id) => sqlx::query(TYPES_OF_ROOM_TYPE)
                .bind(room_type_id.as_uuid())
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
