//! Nights of room types: lazy materialisation, rates, allotments and availability reads.

use std::collections::HashMap;

use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HotelId, Result, RoomTypeId};
use sqlx::{QueryBuilder, Row as _, Sqlite, SqliteConnection};
use time::Date;
use uuid::Uuid;

use super::catalog::city_key;
use super::rows::{self, count, hotel_columns, internal, is_check_violation, room_type_columns};
use crate::store::{RoomTypeNights, SearchScope, StoredNight, events};

/// The nights `[?2, ?3)` as a recursive CTE named `range_nights(night)`, in date order; the
/// caller makes sure `?2 < ?3`. Dates are stored as `YYYY-MM-DD` text, which `date()` keeps.
macro_rules! range_nights {
    () => {
        "range_nights(night) AS (SELECT ?2 UNION ALL \
         SELECT date(night, '+1 day') FROM range_nights WHERE date(night, '+1 day') < ?3)"
    };
}

/// Rooms of the type that are not out of service: the default allotment of a night.
pub(super) async fn active_rooms(
    conn: &mut SqliteConnection,
    room_type_id: RoomTypeId,
) -> Result<u32> {
    let active: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM rooms WHERE room_type_id = ? AND status != 'out_of_service'",
    )
    .bind(room_type_id.0)
    .fetch_one(conn)
    .await
    .map_err(internal)?;
    count(active, "active rooms")
}

/// Creates the missing rows of `[from, to)` with the default allotment, in one statement.
pub(super) async fn materialise(
    conn: &mut SqliteConnection,
    room_type_id: RoomTypeId,
    from: Date,
    to: Date,
    active: u32,
) -> Result<()> {
    if from >= to {
        return Ok(());
    }
    sqlx::query(concat!(
        "WITH RECURSIVE ",
        range_nights!(),
        " INSERT INTO room_nights (room_type_id, night, total) \
         SELECT ?1, night, ?4 FROM range_nights WHERE true \
         ON CONFLICT (room_type_id, night) DO NOTHING"
    ))
    .bind(room_type_id.0)
    .bind(from)
    .bind(to)
    .bind(i64::from(active))
    .execute(conn)
    .await
    .map_err(internal)?;
    Ok(())
}

/// Brings the default (non-manual) allotments of a type back to its active rooms, never below
/// what is already held or sold, with its `inventory_changed` event when a night changed.
pub(super) async fn resync(
    conn: &mut SqliteConnection,
    hotel_id: HotelId,
    room_type_id: RoomTypeId,
) -> Result<()> {
    let active = active_rooms(conn, room_type_id).await?;
    let resynced: Vec<Date> = sqlx::query_scalar(
        "UPDATE room_nights SET total = MAX(?2, held + sold), rev = rev + 1 \
         WHERE room_type_id = ?1 AND manual_total = 0 AND total != MAX(?2, held + sold) \
         RETURNING night",
    )
    .bind(room_type_id.0)
    .bind(i64::from(active))
    .fetch_all(&mut *conn)
    .await
    .map_err(internal)?;
    if let Some(event) = events::allotment_resynced(room_type_id, hotel_id, &resynced)? {
        Outbox::append(conn, &event)
            .await
            .map_err(events::append_failed)?;
    }
    Ok(())
}

/// The room type's active-room count, or `not_found` if it does not exist.
async fn require_active_rooms(
    conn: &mut SqliteConnection,
    room_type_id: RoomTypeId,
) -> Result<u32> {
    let exists = sqlx::query_scalar::<_, i64>("SELECT 1 FROM room_types WHERE id = ?")
        .bind(room_type_id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(internal)?;
    if exists.is_none() {
        return Err(Error::not_found("room type", room_type_id));
    }
    active_rooms(conn, room_type_id).await
}

/// The number of nights a range write touched: one row per night of `[from, to)`, or the
/// statement did not do what it says.
fn written(rows: u64, from: Date, to: Date) -> Result<u32> {
    let expected = (to - from).whole_days();
    if i64::try_from(rows).ok() != Some(expected) {
        return Err(Error::internal(format!(
            "a range write over {from}..{to} touched {rows} nights, not {expected}"
        )));
    }
    u32::try_from(rows).map_err(|_| Error::invalid_request("too many nights"))
}

pub(super) async fn set_rates(
    conn: &mut SqliteConnection,
    room_type_id: RoomTypeId,
    from: Date,
    to: Date,
    price: i64,
    min_stay: Option<u32>,
) -> Result<u32> {
    let active = require_active_rooms(conn, room_type_id).await?;
    if from >= to {
        return Ok(0);
    }
    let done = sqlx::query(concat!(
        "WITH RECURSIVE ",
        range_nights!(),
        " INSERT INTO room_nights (room_type_id, night, total, price, min_stay) \
         SELECT ?1, night, ?4, ?5, ?6 FROM range_nights WHERE true \
         ON CONFLICT (room_type_id, night) DO UPDATE SET price = excluded.price, min_stay = excluded.min_stay, \
             rev = rev + 1"
    ))
    .bind(room_type_id.0)
    .bind(from)
    .bind(to)
    .bind(i64::from(active))
    .bind(price)
    .bind(min_stay.map(i64::from))
    .execute(&mut *conn)
    .await
    .map_err(internal)?;
    written(done.rows_affected(), from, to)
}

pub(super) async fn set_inventory(
    conn: &mut SqliteConnection,
    room_type_id: RoomTypeId,
    from: Date,
    to: Date,
    total: u32,
) -> Result<u32> {
    require_active_rooms(conn, room_type_id).await?;
    let hotel_id: Uuid = sqlx::query_scalar("SELECT hotel_id FROM room_types WHERE id = ?")
        .bind(room_type_id.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
    // Checked before any write, so a refusal leaves every night as it was.
    let below = sqlx::query(
        "SELECT night, held + sold AS taken FROM room_nights \
         WHERE room_type_id = ? AND night >= ? AND night < ? AND held + sold > ? ORDER BY night LIMIT 1",
    )
    .bind(room_type_id.0)
    .bind(from)
    .bind(to)
    .bind(i64::from(total))
    .fetch_optional(&mut *conn)
    .await
    .map_err(internal)?;
    if let Some(row) = below {
        let night: Date = row.try_get("night").map_err(internal)?;
        let taken: i64 = row.try_get("taken").map_err(internal)?;
        return Err(allotment_conflict(night, taken, total));
    }
    if from >= to {
        return Ok(0);
    }
    // The check above makes the CHECK constraint unreachable here; were it to fire anyway,
    // the statement fails whole and the caller's transaction writes nothing.
    let done = sqlx::query(concat!(
        "WITH RECURSIVE ",
        range_nights!(),
        " INSERT INTO room_nights (room_type_id, night, total, manual_total) \
         SELECT ?1, night, ?4, 1 FROM range_nights WHERE true \
         ON CONFLICT (room_type_id, night) DO UPDATE SET total = excluded.total, manual_total = 1, \
             rev = rev + 1"
    ))
    .bind(room_type_id.0)
    .bind(from)
    .bind(to)
    .bind(i64::from(total))
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        if is_check_violation(&e) {
            Error::conflict(format!(
                "rooms are already held or sold between {from} and {to}; the allotment cannot be set to {total}"
            ))
        } else {
            internal(e)
        }
    })?;
    let nights = written(done.rows_affected(), from, to)?;
    let event = events::allotment_set(room_type_id, hotel_id.into(), from, to)?;
    Outbox::append(conn, &event)
        .await
        .map_err(events::append_failed)?;
    Ok(nights)
}

fn allotment_conflict(night: Date, taken: i64, total: u32) -> Error {
    Error::conflict(format!(
        "{taken} room(s) are already held or sold on {night}; the allotment cannot be set to {total}"
    ))
}

/// Appends the scope and capacity conditions (tables `h` and `rt`).
fn push_scope(query: &mut QueryBuilder<Sqlite>, scope: &SearchScope, min_capacity: u32) {
    match scope {
        SearchScope::City(city) => {
            query.push(" AND h.city_key = ").push_bind(city_key(city));
        }
        SearchScope::Area(area) => {
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
        SearchScope::Hotel(id) => {
            query.push(" AND h.id = ").push_bind(id.0);
        }
        SearchScope::RoomType(id) => {
            query.push(" AND rt.id = ").push_bind(id.0);
        }
    }
    query
        .push(" AND rt.capacity >= ")
        .push_bind(i64::from(min_capacity));
}

/// The stored nights of one room type in `[from, to)`, sorted.
pub(super) async fn of_room_type<'e, E>(
    conn: E,
    room_type_id: RoomTypeId,
    from: Date,
    to: Date,
) -> Result<Vec<StoredNight>>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    sqlx::query(
        "SELECT night, total, held, sold, price, min_stay, rev FROM room_nights \
         WHERE room_type_id = ? AND night >= ? AND night < ? ORDER BY night",
    )
    .bind(room_type_id.as_uuid())
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
    .map_err(internal)?
    .iter()
    .map(rows::night)
    .collect()
}

pub(super) async fn room_type_nights(
    conn: &mut SqliteConnection,
    scope: &SearchScope,
    min_capacity: u32,
    from: Date,
    to: Date,
) -> Result<Vec<RoomTypeNights>> {
    let mut types = QueryBuilder::<Sqlite>::new(concat!(
        "SELECT ",
        hotel_columns!(),
        ", ",
        room_type_columns!(),
        " FROM room_types rt JOIN hotels h ON h.id = rt.hotel_id WHERE 1 = 1"
    ));
    push_scope(&mut types, scope, min_capacity);
    types.push(" ORDER BY h.id, rt.base_price, rt.name, rt.id");
    let type_rows = types
        .build()
        .fetch_all(&mut *conn)
        .await
        .map_err(internal)?;

    let mut nights = QueryBuilder::<Sqlite>::new(
        "SELECT n.room_type_id, n.night, n.total, n.held, n.sold, n.price, n.min_stay, n.rev \
         FROM room_nights n JOIN room_types rt ON rt.id = n.room_type_id JOIN hotels h ON h.id = rt.hotel_id WHERE 1 = 1",
    );
    push_scope(&mut nights, scope, min_capacity);
    nights
        .push(" AND n.night >= ")
        .push_bind(from)
        .push(" AND n.night < ")
        .push_bind(to);
    nights.push(" ORDER BY n.room_type_id, n.night");
    let night_rows = nights
        .build()
        .fetch_all(&mut *conn)
        .await
        .map_err(internal)?;

    let mut by_type: HashMap<Uuid, Vec<_>> = HashMap::new();
    for row in &night_rows {
        let room_type_id: Uuid = row.try_get("room_type_id").map_err(internal)?;
        by_type
            .entry(room_type_id)
            .or_default()
            .push(rows::night(row)?);
    }
    type_rows
        .iter()
        .map(|row| {
            let room_type = rows::room_type(row)?;
            let nights = by_type.remove(&room_type.id.0).unwrap_or_default();
            Ok(RoomTypeNights {
                hotel: rows::hotel(row)?,
                room_type,
                nights,
            })
        })
        .collect()
}
