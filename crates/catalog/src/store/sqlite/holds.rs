//! Holds: the oversell barrier and the hold life cycle.

use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HoldId, Result, StayDates};
use sqlx::{Row as _, SqliteConnection};
use time::OffsetDateTime;
use uuid::Uuid;

use super::nights::{active_rooms, materialise, of_room_type};
use super::rows::{self, hold_columns, instant, internal, is_check_violation, micros};
use crate::api::{Hold, HoldStatus};
use crate::store::{NewHold, PlacedHold, events};

pub(super) async fn get(conn: &mut SqliteConnection, id: HoldId) -> Result<Option<Hold>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        hold_columns!(),
        " FROM holds WHERE id = ?"
    ))
    .bind(id.0)
    .fetch_optional(conn)
    .await
    .map_err(internal)?;
    row.as_ref().map(rows::hold).transpose()
}

fn same_terms(existing: &Hold, hold: &NewHold) -> bool {
    existing.room_type_id == hold.room_type_id
        && existing.stay.check_in() == hold.check_in
        && existing.stay.check_out() == hold.check_out
        && existing.quantity == hold.quantity
}

/// Places a hold; on error the caller drops the transaction, undoing every night touched.
pub(super) async fn place(conn: &mut SqliteConnection, hold: &NewHold) -> Result<PlacedHold> {
    if let Some(existing) = get(conn, hold.id).await? {
        if same_terms(&existing, hold) {
            return Ok(PlacedHold {
                hold: existing,
                nights: Vec::new(),
            });
        }
        return Err(Error::conflict(format!(
            "hold {} already exists with other terms",
            hold.id
        )));
    }
    if hold.check_out <= hold.check_in {
        return Err(Error::invalid_field("check_out", "must be after check_in"));
    }
    if hold.quantity == 0 {
        return Err(Error::invalid_field("quantity", "must be at least 1"));
    }
    let room_type = sqlx::query("SELECT hotel_id, name FROM room_types WHERE id = ?")
        .bind(hold.room_type_id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(internal)?
        .ok_or_else(|| Error::not_found("room type", hold.room_type_id))?;
    let hotel_id: Uuid = room_type.try_get("hotel_id").map_err(internal)?;
    let name: String = room_type.try_get("name").map_err(internal)?;
    let active = active_rooms(conn, hold.room_type_id).await?;
    let stay = StayDates::from_stored(hold.check_in, hold.check_out)?;
    let quantity = i64::from(hold.quantity);

    materialise(
        conn,
        hold.room_type_id,
        hold.check_in,
        hold.check_out,
        active,
    )
    .await?;
    // One conditional update per night, in date order.
    for night in stay.nights() {
        let sold_out = || {
            if hold.quantity == 1 {
                Error::sold_out(format!("no {name} left on {night}"))
            } else {
                Error::sold_out(format!(
                    "fewer than {} {name} left on {night}",
                    hold.quantity
                ))
            }
        };
        let done = sqlx::query(
            "UPDATE room_nights SET held = held + ?3, rev = rev + 1 \
             WHERE room_type_id = ?1 AND night = ?2 AND held + sold + ?3 <= total",
        )
        .bind(hold.room_type_id.0)
        .bind(night)
        .bind(quantity)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_check_violation(&e) {
                sold_out()
            } else {
                internal(e)
            }
        })?;
        if done.rows_affected() == 0 {
            return Err(sold_out());
        }
    }

    let (expires_at, now) = (micros(hold.expires_at)?, micros(hold.now)?);
    sqlx::query(
        "INSERT INTO holds (id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, \
         updated_at) VALUES (?, ?, ?, ?, ?, ?, 'held', ?, ?, ?)",
    )
    .bind(hold.id.0)
    .bind(hotel_id)
    .bind(hold.room_type_id.0)
    .bind(hold.check_in)
    .bind(hold.check_out)
    .bind(quantity)
    .bind(expires_at)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(internal)?;
    let placed = Hold {
        id: hold.id,
        hotel_id: hotel_id.into(),
        room_type_id: hold.room_type_id,
        stay,
        quantity: hold.quantity,
        status: HoldStatus::Held,
        expires_at: instant(expires_at)?,
        created_at: instant(now)?,
        updated_at: instant(now)?,
    };
    Outbox::append(conn, &events::hold_changed(&placed, hold.now)?)
        .await
        .map_err(events::append_failed)?;
    let nights = of_room_type(&mut *conn, hold.room_type_id, hold.check_in, hold.check_out).await?;
    Ok(PlacedHold {
        hold: placed,
        nights,
    })
}

/// How a transition moves a hold's rooms between the night counters.
#[derive(Clone, Copy)]
enum Move {
    /// Held rooms go back on sale (release or expiry of a held hold).
    UnholdHeld,
    /// Held rooms become sold (confirmation).
    SellHeld,
    /// Sold rooms go back on sale (release of a confirmed hold).
    UnsellSold,
}

impl Move {
    /// `?1` room type, `?2` night, `?3` quantity, `?4` active rooms. A night on the default
    /// allotment follows the active rooms again as rooms come back (a room taken out of
    /// service while booked left its total at `held + sold`), never below what stays taken.
    fn sql(self) -> &'static str {
        match self {
            Move::UnholdHeld => {
                "UPDATE room_nights SET held = held - ?3, rev = rev + 1, \
                 total = CASE WHEN manual_total = 1 THEN total ELSE MAX(?4, held - ?3 + sold) END \
                 WHERE room_type_id = ?1 AND night = ?2"
            }
            Move::SellHeld => {
                "UPDATE room_nights SET held = held - ?3, sold = sold + ?3, rev = rev + 1, \
                 total = CASE WHEN manual_total = 1 THEN total ELSE MAX(?4, held + sold) END \
                 WHERE room_type_id = ?1 AND night = ?2"
            }
            Move::UnsellSold => {
                "UPDATE room_nights SET sold = sold - ?3, rev = rev + 1, \
                 total = CASE WHEN manual_total = 1 THEN total ELSE MAX(?4, held + sold - ?3) END \
                 WHERE room_type_id = ?1 AND night = ?2"
            }
        }
    }
}

/// Applies `movement` on every night of the hold, then records its new status and the event.
async fn transition(
    conn: &mut SqliteConnection,
    hold: Hold,
    movement: Move,
    status: HoldStatus,
    now: OffsetDateTime,
) -> Result<Hold> {
    let active = active_rooms(conn, hold.room_type_id).await?;
    for night in hold.stay.nights() {
        let done = sqlx::query(movement.sql())
            .bind(hold.room_type_id.0)
            .bind(night)
            .bind(i64::from(hold.quantity))
            .bind(i64::from(active))
            .execute(&mut *conn)
            .await
            .map_err(internal)?;
        if done.rows_affected() != 1 {
            // A placed hold always has its rows; a missing one means the counters are corrupt.
            return Err(Error::internal(format!(
                "hold {} has no inventory row for {night}",
                hold.id
            )));
        }
    }
    let updated_at = micros(now)?;
    sqlx::query("UPDATE holds SET status = ?, updated_at = ? WHERE id = ?")
        .bind(status.as_str())
        .bind(updated_at)
        .bind(hold.id.0)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    let moved = Hold {
        status,
        updated_at: instant(updated_at)?,
        ..hold
    };
    Outbox::append(conn, &events::hold_changed(&moved, now)?)
        .await
        .map_err(events::append_failed)?;
    Ok(moved)
}

/// Confirms a hold. The outer error aborts the transaction; the inner result is the answer
/// once the transaction commits (an overdue hold is expired even though confirming fails).
pub(super) async fn confirm(
    conn: &mut SqliteConnection,
    id: HoldId,
    now: OffsetDateTime,
) -> Result<Result<Hold>> {
    let hold = get(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("hold", id))?;
    match hold.status {
        HoldStatus::Confirmed => Ok(Ok(hold)),
        HoldStatus::Released => Ok(Err(Error::invalid_state(format!("hold {id} was released")))),
        HoldStatus::Expired => Ok(Err(Error::invalid_state(format!("hold {id} expired")))),
        HoldStatus::Held if hold.expires_at <= now => {
            transition(conn, hold, Move::UnholdHeld, HoldStatus::Expired, now).await?;
            Ok(Err(Error::invalid_state(format!("hold {id} expired"))))
        }
        HoldStatus::Held => Ok(Ok(transition(
            conn,
            hold,
            Move::SellHeld,
            HoldStatus::Confirmed,
            now,
        )
        .await?)),
    }
}

pub(super) async fn release(
    conn: &mut SqliteConnection,
    id: HoldId,
    now: OffsetDateTime,
) -> Result<Hold> {
    let hold = get(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("hold", id))?;
    match hold.status {
        HoldStatus::Released | HoldStatus::Expired => Ok(hold),
        HoldStatus::Held => {
            transition(conn, hold, Move::UnholdHeld, HoldStatus::Released, now).await
        }
        HoldStatus::Confirmed => {
            transition(conn, hold, Move::UnsellSold, HoldStatus::Released, now).await
        }
    }
}

pub(super) async fn expire_due(
    conn: &mut SqliteConnection,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Hold>> {
    let due = sqlx::query(concat!(
        "SELECT ",
        hold_columns!(),
        " FROM holds WHERE status = 'held' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?"
    ))
    .bind(micros(now)?)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(internal)?;
    let mut expired = Vec::with_capacity(due.len());
    for row in &due {
        expired.push(
            transition(
                conn,
                rows::hold(row)?,
                Move::UnholdHeld,
                HoldStatus::Expired,
                now,
            )
            .await?,
        );
    }
    Ok(expired)
}
