//! Holds on PostgreSQL: the oversell barrier.
//!
//! A hold takes the room type's row (KEY SHARE), inserts its own row, creates the missing
//! nights in one date-ordered insert, then moves the counters with one conditional update per
//! night in date order. READ COMMITTED is enough: an update that waits on a night's row lock
//! re-evaluates `held + sold + quantity <= total` against the committed row.

use std::collections::BTreeMap;

use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HoldId, Result, RoomTypeId, StayDates};
use sqlx::{Postgres, Transaction};
use time::{Date, OffsetDateTime};

use super::inventory::{lock_room_type_shared, materialise_nights};
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

const INSERT_HOLD: &str = concat!(
    "INSERT INTO holds (id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'held', $7, $8, $8) RETURNING ",
    hold_columns!()
);

const TAKE_NIGHT: &str = "UPDATE room_nights SET held = held + $3 \
     WHERE room_type_id = $1 AND night = $2 AND held + sold + $3 <= total";

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

/// Why one attempt at placing a hold failed.
enum PlaceFailure {
    /// A concurrent call committed a hold with the same id first.
    DuplicateId,
    /// A final answer for the caller.
    Error(Error),
}

impl From<Error> for PlaceFailure {
    fn from(err: Error) -> Self {
        PlaceFailure::Error(err)
    }
}

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
        match self.try_place_hold(hold, stay, quantity).await {
            Ok(placed) => Ok(placed),
            Err(PlaceFailure::Error(err)) => Err(err),
            // The loser of a race on the same new id retries once and finds the winner's hold.
            Err(PlaceFailure::DuplicateId) => match self.try_place_hold(hold, stay, quantity).await
            {
                Ok(placed) => Ok(placed),
                Err(PlaceFailure::Error(err)) => Err(err),
                Err(PlaceFailure::DuplicateId) => {
                    Err(internal(format!("hold {} collided twice", hold.id)))
                }
            },
        }
    }

    async fn try_place_hold(
        &self,
        hold: &NewHold,
        stay: StayDates,
        quantity: i32,
    ) -> Result<Hold, PlaceFailure> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let existing = sqlx::query(GET_HOLD)
            .bind(hold.id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        if let Some(row) = existing {
            return Ok(replay(rows::hold(&row)?, hold)?);
        }
        let (hotel_id, room_type_name) = lock_room_type_shared(&mut tx, hold.room_type_id).await?;
        // The hold's own row first: a concurrent twin waits here, before touching any night.
        let row = sqlx::query(INSERT_HOLD)
            .bind(hold.id.as_uuid())
            .bind(hotel_id.as_uuid())
            .bind(hold.room_type_id.as_uuid())
            .bind(hold.check_in)
            .bind(hold.check_out)
            .bind(quantity)
            .bind(hold.expires_at)
            .bind(hold.now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|err| match violated_constraint(&err) {
                Some("holds_pkey") => PlaceFailure::DuplicateId,
                _ => PlaceFailure::Error(db_error(err)),
            })?;
        let placed = rows::hold(&row)?;
        materialise_nights(&mut tx, hold.room_type_id, hold.check_in, hold.check_out).await?;
        for night in stay.nights() {
            let taken = sqlx::query(TAKE_NIGHT)
                .bind(hold.room_type_id.as_uuid())
                .bind(night)
                .bind(quantity)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            if taken.rows_affected() == 0 {
                // Give the row locks back now rather than when the connection is next used.
                let _ = tx.rollback().await;
                return Err(Error::sold_out(format!(
                    "not enough {room_type_name} rooms left on {night}"
                ))
                .into());
            }
        }
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
