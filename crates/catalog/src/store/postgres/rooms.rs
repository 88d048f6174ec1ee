//! Physical rooms on PostgreSQL, and the allotment resync a room change triggers.

use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HotelId, Result, RoomId, RoomTypeId};
use sqlx::{Postgres, Transaction};
use time::Date;

use super::catalog::missed_update;
use super::rows::{self, room_columns};
use super::{PgCatalogStore, db_error, violated_constraint};
use crate::api::{Room, RoomStatus};
use crate::store::events;

// A room change takes the room type's row exclusively: every inventory transaction holds a
// KEY SHARE lock on it first, so the resync below never races a hold or meets its night locks.
const LOCK_ROOM_TYPES_EXCLUSIVE: &str =
    "SELECT id, hotel_id FROM room_types WHERE id = ANY($1) ORDER BY id FOR UPDATE";

const INSERT_ROOM: &str = "INSERT INTO rooms (id, hotel_id, room_type_id, number, floor, status, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

const GET_ROOM: &str = concat!("SELECT ", room_columns!(), " FROM rooms WHERE id = $1");

const LIST_ROOMS: &str = concat!(
    "SELECT ",
    room_columns!(),
    " FROM rooms WHERE hotel_id = $1 ORDER BY floor, number COLLATE \"C\", id"
);

const UPDATE_ROOM: &str = concat!(
    "UPDATE rooms SET number = $3, floor = $4, room_type_id = $5, status = $6, version = version + 1 \
     WHERE id = $1 AND version = $2 RETURNING ",
    room_columns!()
);

// Non-manual nights follow the active-room count but never drop below what is held or sold.
const RESYNC_NIGHTS: &str = "WITH active AS (SELECT count(*)::int AS n FROM rooms \
         WHERE room_type_id = $1 AND status <> 'out_of_service') \
     UPDATE room_nights rn SET total = GREATEST(active.n, rn.held + rn.sold), rev = rn.rev + 1 \
     FROM active \
     WHERE rn.room_type_id = $1 AND NOT rn.manual_total AND rn.total <> GREATEST(active.n, rn.held + rn.sold) \
     RETURNING rn.night";

/// A room number taken in the hotel, as clients see it.
fn number_taken(number: &str) -> Error {
    Error::conflict(format!("room number {number} already exists in this hotel"))
}

impl PgCatalogStore {
    pub(super) async fn insert_room_impl(&self, room: &Room) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        lock_room_types(&mut tx, room.hotel_id, &[room.room_type_id]).await?;
        sqlx::query(INSERT_ROOM)
            .bind(room.id.as_uuid())
            .bind(room.hotel_id.as_uuid())
            .bind(room.room_type_id.as_uuid())
            .bind(&room.number)
            .bind(room.floor)
            .bind(room.status.as_str())
            .bind(room.version)
            .execute(&mut *tx)
            .await
            .map_err(|err| room_write_error(err, room))?;
        resync_nights(&mut tx, room.hotel_id, room.room_type_id).await?;
        tx.commit().await.map_err(db_error)
    }

    pub(super) async fn get_room_impl(&self, id: RoomId) -> Result<Option<Room>> {
        let row = sqlx::query(GET_ROOM)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(rows::room).transpose()
    }

    pub(super) async fn list_rooms_impl(&self, hotel_id: HotelId) -> Result<Vec<Room>> {
        let rows = sqlx::query(LIST_ROOMS)
            .bind(hotel_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(rows::room).collect()
    }

    pub(super) async fn update_room_impl(
        &self,
        room: &Room,
        expected_version: i64,
    ) -> Result<Room> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let Some(old) = sqlx::query(GET_ROOM)
            .bind(room.id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
        else {
            return Err(Error::not_found("room", room.id));
        };
        let old = rows::room(&old)?;
        if old.version != expected_version {
            return Err(Error::version_mismatch(old.version));
        }
        let in_service = |status: RoomStatus| status != RoomStatus::OutOfService;
        let affected: Vec<RoomTypeId> = if old.room_type_id != room.room_type_id {
            vec![old.room_type_id, room.room_type_id]
        } else if in_service(old.status) != in_service(room.status) {
            vec![room.room_type_id]
        } else {
            // Housekeeping flips (ready <-> dirty) leave the allotment alone: no lock, no resync.
            Vec::new()
        };
        if !affected.is_empty() {
            lock_room_types(&mut tx, room.hotel_id, &affected).await?;
        }
        // The version check makes `old` the state this update replaces, so `affected` is right.
        let row = sqlx::query(UPDATE_ROOM)
            .bind(room.id.as_uuid())
            .bind(expected_version)
            .bind(&room.number)
            .bind(room.floor)
            .bind(room.room_type_id.as_uuid())
            .bind(room.status.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|err| room_write_error(err, room))?;
        let Some(row) = row else {
            return Err(missed_update(
                &mut tx,
                "SELECT version FROM rooms WHERE id = $1",
                "room",
                room.id.as_uuid(),
            )
            .await);
        };
        let updated = rows::room(&row)?;
        for room_type_id in affected {
            resync_nights(&mut tx, room.hotel_id, room_type_id).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(updated)
    }
}

/// Maps the constraint violations of a room insert or update.
fn room_write_error(err: sqlx::Error, room: &Room) -> Error {
    match violated_constraint(&err) {
        Some("rooms_hotel_number_key") => number_taken(&room.number),
        Some("rooms_pkey") => Error::conflict(format!("room {} already exists", room.id)),
        Some("rooms_hotel_id_fkey") => Error::not_found("hotel", room.hotel_id),
        Some("rooms_room_type_id_fkey") => Error::not_found("room type", room.room_type_id),
        _ => db_error(err),
    }
}

/// Locks room types exclusively (in id order) and checks they belong to `hotel_id`.
async fn lock_room_types(
    tx: &mut Transaction<'static, Postgres>,
    hotel_id: HotelId,
    ids: &[RoomTypeId],
) -> Result<()> {
    let mut wanted: Vec<uuid::Uuid> = ids.iter().map(RoomTypeId::as_uuid).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let found: Vec<(uuid::Uuid, uuid::Uuid)> = sqlx::query_as(LOCK_ROOM_TYPES_EXCLUSIVE)
        .bind(&wanted)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    for id in wanted {
        // A type of another hotel is as good as absent for this hotel's rooms.
        if !found
            .iter()
            .any(|(found_id, hotel)| *found_id == id && *hotel == hotel_id.as_uuid())
        {
            return Err(Error::not_found("room type", id));
        }
    }
    Ok(())
}

/// Brings the default allotment of the type's materialised nights in line with its rooms, with
/// its `inventory_changed` event when a night changed.
async fn resync_nights(
    tx: &mut Transaction<'static, Postgres>,
    hotel_id: HotelId,
    room_type_id: RoomTypeId,
) -> Result<()> {
    let resynced: Vec<Date> = sqlx::query_scalar(RESYNC_NIGHTS)
        .bind(room_type_id.as_uuid())
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    if let Some(event) = events::allotment_resynced(room_type_id, hotel_id, &resynced)? {
        Outbox::append(&mut **tx, &event)
            .await
            .map_err(events::append_failed)?;
    }
    Ok(())
}
