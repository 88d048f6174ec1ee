//! Holds on PostgreSQL: the oversell barrier.
//!
//! Placing a hold is one statement (`PLACE_HOLD`) and the outbox row, in one transaction: the
//! statement takes the room type's row (KEY SHARE: room changes wait), inserts the hold's own
//! row (a concurrent twin with the same id waits there, then finds it), and takes every night
//! of the stay with one date-ordered upsert whose update branch only applies where
//! `held + sold + quantity <= total`. READ COMMITTED is enough: an upsert that waits on a
//! night's row lock (or on another transaction's insert of that night) re-evaluates the
//! condition against the committed row. A night not taken is not returned, and the caller
//! rolls the whole hold back: sold out.
//!
//! Round trips matter more than statements here: a booking is bound by them (BENCHMARKS.md),
//! and this is four (begin, place, outbox row, commit) where a statement per step was ten.

use std::collections::BTreeMap;

use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HoldId, Result, RoomTypeId, StayDates};
use sqlx::{Postgres, Row as _, Transaction};
use time::{Date, OffsetDateTime};

use super::inventory::lock_room_type_shared;
use super::rows::{self, hold_columns};
use super::{PgCatalogStore, db_error, internal, violated_constraint};
use crate::api::{Hold, HoldStatus};
use crate::store::{NewHold, events};

const GET_HOLD: &str = concat!("SELECT ", hold_columns!(), " FROM holds WHERE id = $1");

const LOCK_HOLD: &str = concat!(
    "SELECT ",
    hold_columns!(),
    " FROM holds WHERE id = $1 FOR UPDATE"
);

// `rt`: the room type, KEY SHARE, with the active rooms a night it has no row for yet starts
// with. `placed`: the hold's row, nothing when the id exists (replay or conflict, the caller
// reads it). `taken`: the nights, created or updated in date order, each only when the
// quantity fits. A night without a row whose active rooms cannot fit the quantity is not
// proposed at all, so not taken either. PostgreSQL checks a proposed row's CHECK constraints
// before it looks for a conflict, so a night that has a row (rows are never deleted, so it
// conflicts) is proposed with a total the counters' check accepts; only the existing row's
// total counts, in the update's condition. One row out while the room type exists.
const PLACE_HOLD: &str = "WITH rt AS ( \
         SELECT id, hotel_id, name, (SELECT count(*) FROM rooms \
             WHERE room_type_id = $3 AND status <> 'out_of_service')::int AS active \
         FROM room_types WHERE id = $3 FOR KEY SHARE), \
     placed AS ( \
         INSERT INTO holds (id, hotel_id, room_type_id, check_in, check_out, quantity, status, \
             expires_at, created_at, updated_at) \
         SELECT $1, rt.hotel_id, rt.id, $4, $5, $2, 'held', $6, $7, $7 FROM rt \
         ON CONFLICT (id) DO NOTHING \
         RETURNING id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, \
             created_at, updated_at), \
     taken AS ( \
         INSERT INTO room_nights AS rn (room_type_id, night, total, held) \
         SELECT placed.room_type_id, placed.check_in + i, \
             GREATEST(rt.active, placed.quantity), placed.quantity \
         FROM placed CROSS JOIN rt CROSS JOIN generate_series(0, $5::date - $4::date - 1) AS i \
         WHERE rt.active >= placed.quantity OR EXISTS (SELECT 1 FROM room_nights x \
             WHERE x.room_type_id = placed.room_type_id AND x.night = placed.check_in + i) \
         ORDER BY i \
         ON CONFLICT (room_type_id, night) DO UPDATE SET held = rn.held + excluded.held \
         WHERE rn.held + rn.sold + excluded.held <= rn.total \
         RETURNING night) \
     SELECT rt.name AS room_type_name, placed.id IS NOT NULL AS placed, \
         ARRAY(SELECT night FROM taken ORDER BY night) AS taken, \
         placed.id, placed.hotel_id, placed.room_type_id, placed.check_in, placed.check_out, \
         placed.quantity, placed.status, placed.expires_at, placed.created_at, placed.updated_at \
     FROM rt LEFT JOIN placed ON true";

// A night on the default allotment follows the active rooms again as rooms come back (a
// room taken out of service while booked left its total at `held + sold`); never below what
// stays held or sold. The count runs once per statement, under the caller's room type lock.
const MOVE_COUNTERS: &str = "UPDATE room_nights SET held = held + $3, sold = sold + $4, \
     total = CASE WHEN manual_total THEN total ELSE GREATEST((SELECT count(*) FROM rooms \
         WHERE room_type_id = $1 AND status <> 'out_of_service')::int, held + $3 + sold + $4) END \
     WHERE room_type_id = $1 AND night = $2";

const SET_HOLD_STATUS: &str = concat!(
    "UPDATE holds SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ",
    hold_columns!()
);

// Several sweepers may run at once; each takes holds the others have not locked.
const DUE_HOLDS: &str = concat!(
    "SELECT ",
    hold_columns!(),
    " FROM holds WHERE status = 'held' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED"
);

const LOCK_ROOM_TYPES_SHARED: &str =
    "SELECT id FROM room_types WHERE id = ANY($1) ORDER BY id FOR KEY SHARE";

const EXPIRE_HOLDS: &str = concat!(
    "UPDATE holds SET status = 'expired', updated_at = $2 WHERE id = ANY($1) RETURNING ",
    hold_columns!()
);

/// Whether a stored hold was placed with the same terms as `new`.
fn same_terms(stored: &Hold, new: &NewHold) -> bool {
    stored.room_type_id == new.room_type_id
        && stored.stay.check_in() == new.check_in
        && stored.stay.check_out() == new.check_out
        && stored.quantity == new.quantity
}

/// Returns an existing hold for a replayed id, or refuses other terms.
fn replay(stored: Hold, new: &NewHold) -> Result<Hold> {
    if same_terms(&stored, new) {
        Ok(stored)
    } else {
        Err(Error::conflict(format!(
            "hold {} already exists with other terms",
            new.id
        )))
    }
}

fn quantity_i32(quantity: u32) -> Result<i32> {
    i32::try_from(quantity).map_err(|_| Error::invalid_field("quantity", "is too large"))
}

/// Adds `held` and `sold` (either may be negative) to one existing night.
async fn move_counters(
    tx: &mut Transaction<'static, Postgres>,
    room_type_id: RoomTypeId,
    night: Date,
    held: i32,
    sold: i32,
) -> Result<()> {
    let done = sqlx::query(MOVE_COUNTERS)
        .bind(room_type_id.as_uuid())
        .bind(night)
        .bind(held)
        .bind(sold)
        .execute(&mut **tx)
        .await
        .map_err(|err| match violated_constraint(&err) {
            Some("room_nights_counters_check") => internal(format!(
                "counters of {room_type_id} on {night} would break the invariant: {err}"
            )),
            _ => db_error(err),
        })?;
    if done.rows_affected() != 1 {
        return Err(internal(format!(
            "night {night} of room type {room_type_id} is missing under a hold"
        )));
    }
    Ok(())
}

/// Moves a hold's counters on every night of its stay, in date order.
async fn move_stay(
    tx: &mut Transaction<'static, Postgres>,
    hold: &Hold,
    held: i32,
    sold: i32,
) -> Result<()> {
    lock_room_type_shared(tx, hold.room_type_id).await?;
    for night in hold.stay.nights() {
        move_counters(tx, hold.room_type_id, night, held, sold).await?;
    }
    Ok(())
}

/// Records a hold's new status and its `inventory_changed` event.
async fn set_status(
    tx: &mut Transaction<'static, Postgres>,
    id: HoldId,
    status: HoldStatus,
    now: OffsetDateTime,
) -> Result<Hold> {
    let row = sqlx::query(SET_HOLD_STATUS)
        .bind(id.as_uuid())
        .bind(status.as_str())
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_error)?;
    let hold = rows::hold(&row)?;
    Outbox::append(&mut **tx, &events::hold_changed(&hold, now)?)
        .await
        .map_err(events::append_failed)?;
    Ok(hold)
}

async fn lock_hold(tx: &mut Transaction<'static, Postgres>, id: HoldId) -> Result<Hold> {
    let row = sqlx::query(LOCK_HOLD)
        .bind(id.as_uuid())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    match row {
        Some(row) => rows::hold(&row),
        None => Err(Error::not_found("hold", id)),
    }
}

impl PgCatalogStore {
    pub(super) async fn place_hold_impl(&self, hold: &NewHold) -> Result<Hold> {
        let stay = StayDates::from_stored(hold.check_in, hold.check_out)?;
        let quantity = quantity_i32(hold.quantity)?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let row = sqlx::query(PLACE_HOLD)
            .bind(hold.id.as_uuid())
            .bind(quantity)
            .bind(hold.room_type_id.as_uuid())
            .bind(hold.check_in)
            .bind(hold.check_out)
            .bind(hold.expires_at)
            .bind(hold.now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let placed = match &row {
            Some(row) => row.try_get("placed").map_err(internal)?,
            None => false, // no such room type: the id may still name a hold of another
        };
        if !placed {
            // The id exists: committed by a twin (this statement waited for it) or earlier.
            drop(tx);
            return match (self.get_hold_impl(hold.id).await?, row) {
                (Some(stored), _) => replay(stored, hold),
                (None, None) => Err(Error::not_found("room type", hold.room_type_id)),
                (None, Some(_)) => {
                    Err(internal(format!("hold {} conflicted but is gone", hold.id)))
                }
            };
        }
        let Some(row) = row else {
            return Err(internal("a placed hold without its row"));
        };
        let taken: Vec<Date> = row.try_get("taken").map_err(internal)?;
        if let Some(night) = stay.nights().find(|night| !taken.contains(night)) {
            let name: String = row.try_get("room_type_name").map_err(internal)?;
            // Give the row locks back now rather than when the connection is next used.
            let _ = tx.rollback().await;
            return Err(Error::sold_out(format!(
                "not enough {name} rooms left on {night}"
            )));
        }
        let placed = rows::hold(&row)?;
        Outbox::append(&mut *tx, &events::hold_changed(&placed, hold.now)?)
            .await
            .map_err(events::append_failed)?;
        tx.commit().await.map_err(db_error)?;
        Ok(placed)
    }

    pub(super) async fn confirm_hold_impl(&self, id: HoldId, now: OffsetDateTime) -> Result<Hold> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let hold = lock_hold(&mut tx, id).await?;
        match hold.status {
            HoldStatus::Confirmed => Ok(hold),
            HoldStatus::Released | HoldStatus::Expired => Err(Error::invalid_state(format!(
                "hold {id} is {} and cannot be confirmed",
                hold.status.as_str()
            ))),
            HoldStatus::Held if hold.expires_at <= now => {
                let quantity = quantity_i32(hold.quantity)?;
                move_stay(&mut tx, &hold, -quantity, 0).await?;
                set_status(&mut tx, id, HoldStatus::Expired, now).await?;
                tx.commit().await.map_err(db_error)?;
                Err(Error::invalid_state(format!(
                    "hold {id} has expired and cannot be confirmed"
                )))
            }
            HoldStatus::Held => {
                let quantity = quantity_i32(hold.quantity)?;
                move_stay(&mut tx, &hold, -quantity, quantity).await?;
                let confirmed = set_status(&mut tx, id, HoldStatus::Confirmed, now).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(confirmed)
            }
        }
    }

    pub(super) async fn release_hold_impl(&self, id: HoldId, now: OffsetDateTime) -> Result<Hold> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let hold = lock_hold(&mut tx, id).await?;
        let quantity = quantity_i32(hold.quantity)?;
        match hold.status {
            HoldStatus::Released | HoldStatus::Expired => return Ok(hold),
            HoldStatus::Held => move_stay(&mut tx, &hold, -quantity, 0).await?,
            HoldStatus::Confirmed => move_stay(&mut tx, &hold, 0, -quantity).await?,
        }
        let released = set_status(&mut tx, id, HoldStatus::Released, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(released)
    }

    pub(super) async fn get_hold_impl(&self, id: HoldId) -> Result<Option<Hold>> {
        let row = sqlx::query(GET_HOLD)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(rows::hold).transpose()
    }

    pub(super) async fn expire_holds_impl(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Hold>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let due = sqlx::query(DUE_HOLDS)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let due = due.iter().map(rows::hold).collect::<Result<Vec<_>>>()?;
        // Sum per (room type, night) and apply in that order: the global order every other
        // transaction's locks agree with, whatever mix of holds this batch holds.
        let mut give_back: BTreeMap<(uuid::Uuid, Date), i32> = BTreeMap::new();
        for hold in &due {
            let quantity = quantity_i32(hold.quantity)?;
            for night in hold.stay.nights() {
                *give_back
                    .entry((hold.room_type_id.as_uuid(), night))
                    .or_default() += quantity;
            }
        }
        let mut room_types: Vec<uuid::Uuid> =
            due.iter().map(|h| h.room_type_id.as_uuid()).collect();
        room_types.sort_unstable();
        room_types.dedup();
        sqlx::query(LOCK_ROOM_TYPES_SHARED)
            .bind(&room_types)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        for ((room_type_id, night), quantity) in give_back {
            move_counters(&mut tx, room_type_id.into(), night, -quantity, 0).await?;
        }
        let ids: Vec<uuid::Uuid> = due.iter().map(|h| h.id.as_uuid()).collect();
        let expired = sqlx::query(EXPIRE_HOLDS)
            .bind(&ids)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?
            .iter()
            .map(rows::hold)
            .collect::<Result<Vec<_>>>()?;
        for hold in &expired {
            Outbox::append(&mut *tx, &events::hold_changed(hold, now)?)
                .await
                .map_err(events::append_failed)?;
        }
        tx.commit().await.map_err(db_error)?;
        // In the order they were due, as the SQLite backend returns them.
        let position: std::collections::HashMap<HoldId, usize> =
            due.iter().enumerate().map(|(i, h)| (h.id, i)).collect();
        let mut expired = expired;
        expired.sort_by_key(|h| position.get(&h.id).copied().unwrap_or(usize::MAX));
        Ok(expired)
    }
}
