//! SQLite backend of the booking store (the embedded shape).
//!
//! Reads use the reader pool. Every write is one transaction on the single writer connection
//! begun with `BEGIN IMMEDIATE`, so inside it nothing else writes; the primary key of
//! `booking_events` and the projection's version guard are still what decide an append.

use async_trait::async_trait;
use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HoldId, Result, RoomId};
use innkeeper_platform::db::SqliteDb;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, Sqlite};
use time::OffsetDateTime;
use uuid::Uuid;

use super::outbox::{append_failed, outbox_event};
use super::{
    Append, AppendError, BookingStore, Claim, Claimed, Completion, ListFilter, check_append,
    decode_document, decode_event, encode_document, encode_payload,
};
use crate::api::{Booking, BookingId, Reference};
use crate::domain::events::RecordedEvent;

mod keys;

type WriteTx = sqlx::Transaction<'static, Sqlite>;

/// The booking store on an SQLite file.
#[derive(Debug, Clone)]
pub(crate) struct SqliteBookingStore {
    db: SqliteDb,
}

impl SqliteBookingStore {
    /// A store over an opened database (call [`BookingStore::migrate`] before use).
    pub(crate) fn new(db: SqliteDb) -> Self {
        Self { db }
    }

    async fn write(&self) -> Result<WriteTx> {
        self.db
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }
}

fn internal(cause: impl std::fmt::Display) -> Error {
    Error::internal(format!("booking store (sqlite): {cause}"))
}

fn db_error(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::PoolTimedOut => {
            Error::unavailable("the booking database is busy; retry later")
        }
        other => internal(other),
    }
}

/// Unix microseconds, the stored form of instants.
fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn from_micros(micros: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).map_err(internal)
}

/// Which unique constraint a statement violated, by the column list SQLite names.
fn unique_violation(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Some(db.message().to_owned()),
        _ => None,
    }
}

const INSERT_EVENT: &str = "INSERT INTO booking_events (booking_id, version, type, payload, actor, at) \
     VALUES (?, ?, ?, ?, ?, ?)";

const INSERT_BOOKING: &str = "INSERT INTO bookings (id, reference, status, guest_id, hotel_id, hotel_owner_id, \
     room_type_id, hold_id, check_in, check_out, hold_expires_at, version, document, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_BOOKING: &str = "UPDATE bookings SET status = ?, room_type_id = ?, hold_id = ?, check_in = ?, check_out = ?, \
     hold_expires_at = ?, version = ?, document = ?, updated_at = ? WHERE id = ? AND version = ?";

async fn insert_event(tx: &mut WriteTx, event: &RecordedEvent) -> Result<(), AppendError> {
    let inserted = sqlx::query(INSERT_EVENT)
        .bind(event.booking_id.as_uuid())
        .bind(event.version)
        .bind(event.event.name())
        .bind(encode_payload(event))
        .bind(event.actor.to_stored())
        .bind(micros(event.at))
        .execute(&mut **tx)
        .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(err) if unique_violation(&err).is_some() => {
            Err(AppendError::VersionMismatch { current: -1 })
        }
        Err(err) => Err(db_error(err).into()),
    }
}

async fn write_projection(
    tx: &mut WriteTx,
    booking: &Booking,
    expected_version: i64,
) -> Result<(), AppendError> {
    let document = encode_document(booking)?;
    if expected_version == 0 {
        let inserted = sqlx::query(INSERT_BOOKING)
            .bind(booking.id.as_uuid())
            .bind(booking.reference.as_str())
            .bind(booking.status.as_str())
            .bind(booking.guest_id.as_uuid())
            .bind(booking.hotel_id.as_uuid())
            .bind(booking.hotel_owner_id.as_uuid())
            .bind(booking.room_type_id.as_uuid())
            .bind(booking.hold_id.as_uuid())
            .bind(booking.stay.check_in())
            .bind(booking.stay.check_out())
            .bind(micros(booking.hold_expires_at))
            .bind(booking.version)
            .bind(document)
            .bind(micros(booking.created_at))
            .bind(micros(booking.updated_at))
            .execute(&mut **tx)
            .await;
        return match inserted {
            Ok(_) => Ok(()),
            Err(err) => match unique_violation(&err) {
                Some(message) if message.contains("bookings.reference") => {
                    Err(AppendError::ReferenceTaken)
                }
                Some(_) => Err(AppendError::VersionMismatch { current: -1 }),
                None => Err(db_error(err).into()),
            },
        };
    }
    let updated = sqlx::query(UPDATE_BOOKING)
        .bind(booking.status.as_str())
        .bind(booking.room_type_id.as_uuid())
        .bind(booking.hold_id.as_uuid())
        .bind(booking.stay.check_in())
        .bind(booking.stay.check_out())
        .bind(micros(booking.hold_expires_at))
        .bind(booking.version)
        .bind(document)
        .bind(micros(booking.updated_at))
        .bind(booking.id.as_uuid())
        .bind(expected_version)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    if updated.rows_affected() == 1 {
        Ok(())
    } else {
        Err(AppendError::VersionMismatch { current: -1 })
    }
}

/// Gives `room_id` to the booking for its stay, unless another stay holds it on one of
/// those nights (checked under the write lock, so nothing can slip in between).
async fn assign_room(
    tx: &mut WriteTx,
    booking: &Booking,
    room_id: RoomId,
) -> Result<(), AppendError> {
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM room_assignments WHERE room_id = ? AND check_in < ? AND ? < check_out LIMIT 1",
    )
    .bind(room_id.as_uuid())
    .bind(booking.stay.check_out())
    .bind(booking.stay.check_in())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    if taken.is_some() {
        return Err(AppendError::RoomTaken { room_id });
    }
    sqlx::query(
        "INSERT INTO room_assignments (booking_id, room_id, hotel_id, check_in, check_out) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(booking.id.as_uuid())
    .bind(room_id.as_uuid())
    .bind(booking.hotel_id.as_uuid())
    .bind(booking.stay.check_in())
    .bind(booking.stay.check_out())
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(super) async fn append_in(tx: &mut WriteTx, append: &Append) -> Result<(), AppendError> {
    for event in &append.events {
        insert_event(tx, event).await?;
    }
    write_projection(tx, &append.booking, append.expected_version).await?;
    for room_id in &append.assignment {
        assign_room(tx, &append.booking, *room_id).await?;
    }
    for event in &append.events {
        let published = outbox_event(event, &append.booking)?;
        Outbox::append(&mut **tx, &published)
            .await
            .map_err(append_failed)?;
    }
    if let Some(completion) = &append.idempotency {
        keys::complete_key(tx, completion).await?;
    }
    Ok(())
}

const SELECT_EVENTS: &str = "SELECT booking_id, version, type, payload, actor, at FROM booking_events \
     WHERE booking_id = ? ORDER BY version";

/// A booking's events, read inside a write transaction.
pub(super) async fn events_in(tx: &mut WriteTx, id: BookingId) -> Result<Vec<RecordedEvent>> {
    let rows = sqlx::query(SELECT_EVENTS)
        .bind(id.as_uuid())
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    rows.iter().map(event_row).collect()
}

/// The booking a hold backs now, read inside a write transaction.
pub(super) async fn booking_of_hold_in(
    tx: &mut WriteTx,
    hold_id: HoldId,
) -> Result<Option<BookingId>> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM bookings WHERE hold_id = ?")
        .bind(hold_id.as_uuid())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(id.map(BookingId))
}

fn event_row(row: &SqliteRow) -> Result<RecordedEvent> {
    let booking_id: Uuid = row.try_get("booking_id").map_err(internal)?;
    let event_type: String = row.try_get("type").map_err(internal)?;
    let payload: String = row.try_get("payload").map_err(internal)?;
    let actor: String = row.try_get("actor").map_err(internal)?;
    decode_event(
        booking_id,
        row.try_get("version").map_err(internal)?,
        &event_type,
        &payload,
        &actor,
        from_micros(row.try_get("at").map_err(internal)?)?,
    )
}

#[async_trait]
impl BookingStore for SqliteBookingStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.db.writer)
            .await?;
        innkeeper_events::migrate(&innkeeper_platform::db::Database::Sqlite(self.db.clone())).await
    }

    async fn append(&self, append: &Append) -> Result<(), AppendError> {
        check_append(append)?;
        let mut tx = self.write().await?;
        match append_in(&mut tx, append).await {
            Ok(()) => tx.commit().await.map_err(|e| db_error(e).into()),
            Err(AppendError::VersionMismatch { .. }) => {
                drop(tx);
                let current = self.current_version(append.booking.id).await?;
                Err(AppendError::VersionMismatch { current })
            }
            Err(other) => Err(other),
        }
    }

    async fn events(&self, id: BookingId) -> Result<Vec<RecordedEvent>> {
        let rows = sqlx::query(SELECT_EVENTS)
            .bind(id.as_uuid())
            .fetch_all(&self.db.reader)
            .await
            .map_err(db_error)?;
        rows.iter().map(event_row).collect()
    }

    async fn get(&self, id: BookingId) -> Result<Option<Booking>> {
        let document: Option<String> =
            sqlx::query_scalar("SELECT document FROM bookings WHERE id = ?")
                .bind(id.as_uuid())
                .fetch_optional(&self.db.reader)
                .await
                .map_err(db_error)?;
        document.as_deref().map(decode_document).transpose()
    }

    async fn get_by_reference(&self, reference: &Reference) -> Result<Option<Booking>> {
        let document: Option<String> =
            sqlx::query_scalar("SELECT document FROM bookings WHERE reference = ?")
                .bind(reference.as_str())
                .fetch_optional(&self.db.reader)
                .await
                .map_err(db_error)?;
        document.as_deref().map(decode_document).transpose()
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<Booking>> {
        let documents: Vec<String> = sqlx::query_scalar(
            "SELECT document FROM bookings \
             WHERE (?1 IS NULL OR guest_id = ?1) AND (?2 IS NULL OR hotel_id = ?2) \
             AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR check_out > ?4) \
             AND (?5 IS NULL OR check_in < ?5) \
             AND (?6 IS NULL OR (check_in, id) > (?6, ?7)) \
             ORDER BY check_in, id LIMIT ?8",
        )
        .bind(filter.guest_id.map(|g| g.as_uuid()))
        .bind(filter.hotel_id.map(|h| h.as_uuid()))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.after.map(|(day, _)| day))
        .bind(filter.after.map(|(_, id)| id.as_uuid()))
        .bind(i64::from(filter.limit))
        .fetch_all(&self.db.reader)
        .await
        .map_err(db_error)?;
        documents.iter().map(|d| decode_document(d)).collect()
    }

    async fn claim(&self, claim: &Claim) -> Result<Claimed> {
        keys::claim(&self.db, claim).await
    }

    async fn complete(&self, completion: &Completion) -> Result<()> {
        keys::complete(&self.db, completion).await
    }

    async fn abandon(&self, caller: &str, key: &str, now: OffsetDateTime) -> Result<()> {
        keys::abandon(&self.db, caller, key, now).await
    }

    async fn reap_idempotency_keys(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
        keys::reap(&self.db, before, limit).await
    }
}

impl SqliteBookingStore {
    async fn current_version(&self, id: BookingId) -> Result<i64> {
        let current: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM booking_events WHERE booking_id = ?")
                .bind(id.as_uuid())
                .fetch_one(&self.db.writer)
                .await
                .map_err(db_error)?;
        Ok(current.unwrap_or(0))
    }
}
