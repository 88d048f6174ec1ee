//! Rates, allotments and the night counters on PostgreSQL.
//!
//! Lock order, shared by every transaction that touches `room_nights`: first the room type's
//! row (KEY SHARE here and for holds, FOR UPDATE for room changes), then the nights of the
//! range in date order, each created or locked in one pass: one date-ordered upsert per range
//! (rates, allotments, a hold's nights), one update per night in date order (a hold's
//! confirmation, release or expiry, whose nights exist). The order is what keeps a hot room
//! type free of deadlocks (stack-notes: inventory trap). That every writer creates and locks
//! in the same single pass matters too: were one transaction to create a range's missing
//! nights first and lock the existing ones after, while another locks and creates night by
//! night, each could wait on the other (a row lock one way, an uncommitted insert the other).

use std::collections::HashMap;

use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HotelId, Result, RoomTypeId};
use sqlx::{Postgres, Row as _, Transaction};
use time::Date;

use super::rows::{self, hotel_columns, room_type_columns};
use super::{PgCatalogStore, db_error, internal};
use crate::store::{RoomTypeNights, SearchScope, StoredNight, events};

const LOCK_ROOM_TYPE_SHARED: &str =
    "SELECT hotel_id, name FROM room_types WHERE id = $1 FOR KEY SHARE";

// Creates the range's missing nights (with the active rooms as their total) and sets the
// rates of all, in the series' (date) order.
const SET_RATES: &str = "INSERT INTO room_nights AS rn (room_type_id, night, total, price, min_stay) \
     SELECT $1, $2::date + i, (SELECT count(*) FROM rooms \
         WHERE room_type_id = $1 AND status <> 'out_of_service')::int, $4, $5 FROM generate_series(0, $3::date - $2::date - 1) AS i ORDER BY i \
     ON CONFLICT (room_type_id, night) DO UPDATE SET price = excluded.price, min_stay = excluded.min_stay, \
         rev = rn.rev + 1";

// A night where the new total is below `held + sold` keeps its row (still locked) and is not
// returned; the caller then refuses the whole range and rolls back.
const SET_INVENTORY: &str = "INSERT INTO room_nights AS rn (room_type_id, night, total, manual_total) \
     SELECT $1, $2::date + i, $4, true FROM generate_series(0, $3::date - $2::date - 1) AS i ORDER BY i \
     ON CONFLICT (room_type_id, night) DO UPDATE SET total = excluded.total, manual_total = true, rev = rn.rev + 1 \
     WHERE rn.held + rn.sold <= excluded.total \
     RETURNING night";

// The first night of the range where `held + sold` exceeds a total (rows locked by the caller).
const FIRST_OVERBOOKED: &str = "SELECT night, held + sold AS used FROM room_nights \
     WHERE room_type_id = $1 AND night >= $2 AND night < $3 AND held + sold > $4 \
     ORDER BY night LIMIT 1";

const NIGHTS_OF_TYPES: &str = "SELECT room_type_id, night, total, held, sold, price, min_stay, rev FROM room_nights \
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

// One room type with its hotel and its nights in `[$3, $4)`, in one round trip: a row per
// stored night (the type's columns repeated), or one row with no night. A quote and the
// search index's refresh after a hold read this on every booking.
const ROOM_TYPE_WITH_NIGHTS: &str = concat!(
    "SELECT ",
    hotel_columns!(),
    ", ",
    room_type_columns!(),
    ", n.night, n.total, n.held, n.sold, n.price, n.min_stay, n.rev \
     FROM room_types rt JOIN hotels h ON h.id = rt.hotel_id \
     LEFT JOIN room_nights n ON n.room_type_id = rt.id AND n.night >= $3 AND n.night < $4 \
     WHERE rt.id = $1 AND rt.capacity >= $2 ORDER BY n.night"
);

const NIGHTS_OF_TYPE: &str = "SELECT night, total, held, sold, price, min_stay, rev FROM room_nights \
     WHERE room_type_id = $1 AND night >= $2 AND night < $3 ORDER BY night";

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
        lock_room_type_shared(&mut tx, room_type_id).await?;
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

    pub(super) async fn nights_impl(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
    ) -> Result<Vec<StoredNight>> {
        sqlx::query(NIGHTS_OF_TYPE)
            .bind(room_type_id.as_uuid())
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(rows::night)
            .collect()
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
            SearchScope::RoomType(room_type_id) => {
                return self
                    .room_type_with_nights(*room_type_id, min_capacity, from, to)
                    .await;
            }
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

    async fn room_type_with_nights(
        &self,
        room_type_id: RoomTypeId,
        min_capacity: i32,
        from: Date,
        to: Date,
    ) -> Result<Vec<RoomTypeNights>> {
        let found = sqlx::query(ROOM_TYPE_WITH_NIGHTS)
            .bind(room_type_id.as_uuid())
            .bind(min_capacity)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let Some(first) = found.first() else {
            return Ok(Vec::new());
        };
        let mut nights = Vec::with_capacity(found.len());
        for row in &found {
            let night: Option<Date> = row.try_get("night").map_err(db_error)?;
            if night.is_some() {
                nights.push(rows::night(row)?);
            }
        }
        Ok(vec![RoomTypeNights {
            hotel: rows::hotel(first)?,
            room_type: rows::room_type(first)?,
            nights,
        }])
    }
}
