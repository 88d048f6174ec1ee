//! Holds on PostgreSQL: the oversell barrier.
//!
//! Placing a hold is one statement (`PLACE_HOLD`), with no transaction around it: it takes the
//! room type's row (KEY SHARE: room changes wait), inserts the hold's own row (a concurrent
//! twin with the same id waits there, then finds it), increments every night of the stay with
//! one date-ordered upsert, and writes the outbox row. The counters' CHECK constraint
//! (`held + sold <= total`) is the barrier: a night that does not fit fails the statement,
//! and a failed statement leaves nothing behind. READ COMMITTED is enough: an upsert that
//! waits on a night's row lock (or on another transaction's insert of that night) applies its
//! increment to the committed row, and the check sees the result.
//!
//! Round trips matter more than statements here: a booking is bound by them (BENCHMARKS.md),
//! and this is one where a transaction with a statement per step was ten.

use std::collections::BTreeMap;

use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HoldId, HotelId, Result, RoomTypeId, StayDates};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row as _, Transaction};
use time::{Date, OffsetDateTime};

use super::inventory::lock_room_type_shared;
use super::rows::{self, hold_columns};
use super::{PgCatalogStore, db_error, internal, violated_constraint};
use crate::api::{Hold, HoldStatus};
use crate::store::{NewHold, PlacedHold, StoredNight, events};

const GET_HOLD: &str = concat!("SELECT ", hold_columns!(), " FROM holds WHERE id = $1");

const LOCK_HOLD: &str = concat!(
    "SELECT ",
    hold_columns!(),
    " FROM holds WHERE id = $1 FOR UPDATE"
);

// One statement, atomic as any: the hold, its nights and its outbox row, or nothing.
// `rt`: the room type, KEY SHARE, with the active rooms a night it has no row for yet starts
// with, and its hotel, which the caller states ($8, for the event it built) and this checks.
// `full_night`: the first night of the stay already too full as this statement sees it (no
// lock taken: a room type sold out answers at once instead of queueing on its nights' row
// locks). `known`: whether the id names a hold already (a replay). `placed`: the hold's row,
// nothing when the hotel is not the stated one, a night is full or the id exists (replay or
// conflict: the caller reads it). `taken`: the nights, created or incremented in date order.
// A night that does not fit fails the whole statement on `room_nights_counters_check`, the
// invariant itself, instead of being skipped: a statement cannot roll itself back, a failed
// one is. PostgreSQL checks a proposed row's CHECK constraints before it looks for a
// conflict, so a night that has a row is proposed with a total the check accepts, and only
// the existing row's total counts, in the update; a night without one starts at the active
// rooms, so a quantity above them fails there. `o`: the outbox row, with the hold. One row
// out while the room type exists, with the nights as the hold left them (a column per
// field), which the search index takes by their revisions instead of reading them again.
//
// Written for its generic plan: the nights come from `placed`'s dates, not from the
// parameters, and a night's row is looked up by a scalar subquery. With the series over
// `$5 - $4`, PostgreSQL priced each custom plan far below the generic one and planned the
// statement afresh on every execution (0.47 ms, more than running it); with `EXISTS`, the
// generic plan hashed the whole `room_nights` table (70 ms a hold).
const PLACE_HOLD: &str = concat!(
    "WITH rt AS ( \
         SELECT id, hotel_id, name, (SELECT count(*) FROM rooms \
             WHERE room_type_id = $3 AND status <> 'out_of_service')::int AS active \
         FROM room_types WHERE id = $3 FOR KEY SHARE), \
     full_night AS ( \
         SELECT min(night) AS night FROM room_nights \
         WHERE room_type_id = $3 AND night >= $4 AND night < $5 AND held + sold + $2 > total), \
     placed AS ( \
         INSERT INTO holds (id, hotel_id, room_type_id, check_in, check_out, quantity, status, \
             expires_at, created_at, updated_at) \
         SELECT $1, rt.hotel_id, rt.id, $4, $5, $2, 'held', $6, $7, $7 FROM rt \
         WHERE rt.hotel_id = $8 AND (SELECT night FROM full_night) IS NULL \
         ON CONFLICT (id) DO NOTHING \
         RETURNING id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, \
             created_at, updated_at), \
     taken AS ( \
         INSERT INTO room_nights AS rn (room_type_id, night, total, held) \
         SELECT placed.room_type_id, placed.check_in + i, \
             CASE WHEN (SELECT true FROM room_nights x \
                 WHERE x.room_type_id = placed.room_type_id AND x.night = placed.check_in + i) \
             THEN GREATEST(rt.active, placed.quantity) ELSE rt.active END, \
             placed.quantity \
         FROM placed CROSS JOIN rt \
         CROSS JOIN LATERAL generate_series(0, placed.check_out - placed.check_in - 1) AS i \
         ORDER BY i \
         ON CONFLICT (room_type_id, night) DO UPDATE SET held = rn.held + excluded.held, rev = rn.rev + 1 \
         RETURNING night, total, held, sold, price, min_stay, rev), \
     o AS (INSERT INTO event_outbox (",
    innkeeper_events::outbox_columns!(),
    ") SELECT $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 FROM placed) \
     SELECT rt.name AS room_type_name, rt.hotel_id AS room_type_hotel_id, \
         placed.id IS NOT NULL AS placed, (SELECT night FROM full_night) AS full_night, \
         EXISTS (SELECT 1 FROM holds WHERE id = $1) AS known, \
         ARRAY(SELECT night FROM taken ORDER BY night) AS nights, \
         ARRAY(SELECT total FROM taken ORDER BY night) AS totals, \
         ARRAY(SELECT held FROM taken ORDER BY night) AS helds, \
         ARRAY(SELECT sold FROM taken ORDER BY night) AS solds, \
         ARRAY(SELECT price FROM taken ORDER BY night) AS prices, \
         ARRAY(SELECT min_stay FROM taken ORDER BY night) AS min_stays, \
         ARRAY(SELECT rev FROM taken ORDER BY night) AS revs, \
         placed.id, placed.hotel_id, placed.room_type_id, placed.check_in, placed.check_out, \
         placed.quantity, placed.status, placed.expires_at, placed.created_at, placed.updated_at \
     FROM rt LEFT JOIN placed ON true"
);

// After `PLACE_HOLD` failed on the counters' check: the room type's name and the first night
// of the stay without room for the quantity (none when one was given back meanwhile).
const SHORT_NIGHT: &str = "SELECT rt.name, ( \
         SELECT min(d)::date FROM generate_series($2::date, $3::date - 1, interval '1 day') AS d \
         LEFT JOIN room_nights n ON n.room_type_id = rt.id AND n.night = d::date \
         WHERE COALESCE(n.total - n.held - n.sold, (SELECT count(*) FROM rooms \
             WHERE room_type_id = rt.id AND status <> 'out_of_service')::int) < $4) AS night \
     FROM room_types rt WHERE rt.id = $1";

// A night on the default allotment follows the active rooms again as rooms come back (a
// room taken out of service while booked left its total at `held + sold`); never below what
// stays held or sold. The count runs once per statement, under the caller's room type lock.
const MOVE_COUNTERS: &str = "UPDATE room_nights SET held = held + $3, sold = sold + $4, rev = rev + 1, \
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

/// Returns an existing hold for a replayed id (it changed no night), or refuses other terms.
fn replay(stored: Hold, new: &NewHold) -> Result<PlacedHold> {
    if same_terms(&stored, new) {
        Ok(PlacedHold {
            hold: stored,
            nights: Vec::new(),
        })
    } else {
        Err(Error::conflict(format!(
            "hold {} already exists with other terms",
            new.id
        )))
    }
}

/// The hold `PLACE_HOLD` writes for `new` in `hotel_id` (nil until the hotel is known: the
/// statement then writes nothing), for its event.
fn held(new: &NewHold, stay: StayDates, hotel_id: Option<HotelId>) -> Hold {
    Hold {
        id: new.id,
        hotel_id: hotel_id.unwrap_or_else(|| HotelId::from(uuid::Uuid::nil())),
        room_type_id: new.room_type_id,
        stay,
        quantity: new.quantity,
        status: HoldStatus::Held,
        expires_at: new.expires_at,
        created_at: new.now,
        updated_at: new.now,
    }
}

/// The nights `PLACE_HOLD` took, from its parallel arrays.
fn taken_nights(row: &PgRow) -> Result<Vec<StoredNight>> {
    let nights: Vec<Date> = row.try_get("nights").map_err(internal)?;
    let totals: Vec<i32> = row.try_get("totals").map_err(internal)?;
    let helds: Vec<i32> = row.try_get("helds").map_err(internal)?;
    let solds: Vec<i32> = row.try_get("solds").map_err(internal)?;
    let prices: Vec<Option<i64>> = row.try_get("prices").map_err(internal)?;
    let min_stays: Vec<Option<i32>> = row.try_get("min_stays").map_err(internal)?;
    let revs: Vec<i64> = row.try_get("revs").map_err(internal)?;
    let n = nights.len();
    let lengths = [totals.len(), helds.len(), solds.len(), prices.len()];
    if lengths
        .into_iter()
        .chain([min_stays.len(), revs.len()])
        .any(|len| len != n)
    {
        return Err(internal("PLACE_HOLD's night columns differ in length"));
    }
    let count = |n: i32| u32::try_from(n).map_err(internal);
    (0..n)
        .map(|i| {
            Ok(StoredNight {
                night: nights[i],
                total: count(totals[i])?,
                held: count(helds[i])?,
                sold: count(solds[i])?,
                price: prices[i],
                min_stay: min_stays[i].map(count).transpose()?,
                rev: u64::try_from(revs[i]).map_err(internal)?,
            })
        })
        .collect()
}

fn sold_out(room_type_name: &str, night: Date) -> Error {
    Error::sold_out(format!("not enough {room_type_name} rooms left on {night}"))
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
    pub(super) async fn place_hold_impl(&self, hold: &NewHold) -> Result<PlacedHold> {
        let stay = StayDates::from_stored(hold.check_in, hold.check_out)?;
        let quantity = quantity_i32(hold.quantity)?;
        // The event names the hotel, which the statement checks: known from an earlier hold on
        // the room type; otherwise the first answer tells it, having written nothing.
        let mut hotel_id = self.hotel_of(hold.room_type_id);
        for _ in 0..2 {
            let event = events::hold_changed(&held(hold, stay, hotel_id), hold.now)?;
            let query = sqlx::query(PLACE_HOLD)
                .bind(hold.id.as_uuid())
                .bind(quantity)
                .bind(hold.room_type_id.as_uuid())
                .bind(hold.check_in)
                .bind(hold.check_out)
                .bind(hold.expires_at)
                .bind(hold.now)
                .bind(hotel_id.map(|id| id.as_uuid()));
            let row = match Outbox::bind_postgres(query, &event)
                .fetch_optional(&self.pool)
                .await
            {
                Ok(row) => row,
                Err(err) if violated_constraint(&err) == Some("room_nights_counters_check") => {
                    return Err(self.sold_out_after_race(hold, quantity).await);
                }
                Err(err) => return Err(db_error(err)),
            };
            let Some(row) = row else {
                // No such room type: the id may still name a hold of another.
                return match self.get_hold_impl(hold.id).await? {
                    Some(stored) => replay(stored, hold),
                    None => Err(Error::not_found("room type", hold.room_type_id)),
                };
            };
            let actual = HotelId::from(
                row.try_get::<uuid::Uuid, _>("room_type_hotel_id")
                    .map_err(internal)?,
            );
            if hotel_id != Some(actual) {
                self.remember_hotel(hold.room_type_id, actual);
                hotel_id = Some(actual);
                continue;
            }
            return self.placed(hold, stay, &row).await;
        }
        Err(internal(format!(
            "the hotel of room type {} keeps changing",
            hold.room_type_id
        )))
    }

    /// Reads `PLACE_HOLD`'s answer once the hotel was the right one.
    async fn placed(&self, hold: &NewHold, stay: StayDates, row: &PgRow) -> Result<PlacedHold> {
        let placed: bool = row.try_get("placed").map_err(internal)?;
        if !placed {
            let full: Option<Date> = row.try_get("full_night").map_err(internal)?;
            let known: bool = row.try_get("known").map_err(internal)?;
            if let (Some(night), false) = (full, known) {
                let name: String = row.try_get("room_type_name").map_err(internal)?;
                return Err(sold_out(&name, night));
            }
            // The id exists: committed by a twin (this statement waited for it) or earlier.
            return match self.get_hold_impl(hold.id).await? {
                Some(stored) => replay(stored, hold),
                None => Err(internal(format!("hold {} conflicted but is gone", hold.id))),
            };
        }
        let nights = taken_nights(row)?;
        if nights.len() != stay.night_count() as usize {
            // Unreachable while a night that does not fit fails the statement.
            return Err(internal(format!(
                "hold {} took {} of its {} nights",
                hold.id,
                nights.len(),
                stay.night_count()
            )));
        }
        let placed = rows::hold(row)?;
        Outbox::notify_written();
        Ok(PlacedHold {
            hold: placed,
            nights,
        })
    }

    /// The `sold_out` for a hold whose statement failed on a night's counters: it passed the
    /// snapshot check, then a concurrent hold took the last room first.
    async fn sold_out_after_race(&self, hold: &NewHold, quantity: i32) -> Error {
        let found = sqlx::query(SHORT_NIGHT)
            .bind(hold.room_type_id.as_uuid())
            .bind(hold.check_in)
            .bind(hold.check_out)
            .bind(quantity)
            .fetch_optional(&self.pool)
            .await;
        let row = match found {
            Ok(Some(row)) => row,
            Ok(None) => return Error::not_found("room type", hold.room_type_id),
            Err(err) => return db_error(err),
        };
        let name: String = match row.try_get("name") {
            Ok(name) => name,
            Err(err) => return internal(err),
        };
        match row.try_get::<Option<Date>, _>("night") {
            Ok(Some(night)) => sold_out(&name, night),
            // Given back since: the stay was still full when the hold tried.
            Ok(None) => Error::sold_out(format!(
                "not enough {name} rooms left between {} and {}",
                hold.check_in, hold.check_out
            )),
            Err(err) => internal(err),
        }
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
