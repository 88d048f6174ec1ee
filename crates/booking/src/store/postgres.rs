//! PostgreSQL backend of the booking store, for the distributed shape.
//!
//! Every statement is a `&'static str`, prepared once per connection. Constraint violations
//! are mapped by name next to the statement that raises them: of two transactions appending
//! the same `(booking_id, version)`, the second waits for the first and then fails on
//! `booking_events_pkey`, which is a version mismatch, never a lost update.

use async_trait::async_trait;
use innkeeper_events::Outbox;
use innkeeper_kernel::{Error, HoldId, Result, RoomId};
use innkeeper_platform::db::{deadlocked, violated_constraint};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row as _};
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

type Tx = sqlx::Transaction<'static, Postgres>;

/// Attempts of an append PostgreSQL keeps ending to break deadlocks.
const DEADLOCK_ATTEMPTS: u32 = 3;

/// The booking store on a PostgreSQL database of its own.
#[derive(Debug, Clone)]
pub(crate) struct PgBookingStore {
    pool: PgPool,
}

impl PgBookingStore {
    /// A store on `pool`; call [`BookingStore::migrate`] before use.
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn begin(&self) -> Result<Tx> {
        self.pool.begin().await.map_err(db_error)
    }
}

fn internal(cause: impl std::fmt::Display) -> Error {
    Error::internal(format!("booking store (postgres): {cause}"))
}

fn db_error(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::PoolTimedOut => {
            Error::unavailable("the booking database is busy; retry later")
        }
        other => internal(other),
    }
}

const INSERT_EVENT: &str = "INSERT INTO booking_events (booking_id, version, type, payload, actor, at) \
     VALUES ($1, $2, $3, $4::jsonb, $5, $6)";

const INSERT_BOOKING: &str = "INSERT INTO bookings (id, reference, status, guest_id, hotel_id, hotel_owner_id, \
     room_type_id, hold_id, check_in, check_out, hold_expires_at, version, document, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15)";

const UPDATE_BOOKING: &str = "UPDATE bookings SET status = $1, room_type_id = $2, hold_id = $3, check_in = $4, \
     check_out = $5, hold_expires_at = $6, version = $7, document = $8::jsonb, updated_at = $9 \
     WHERE id = $10 AND version = $11";

// A booking's creation as one statement: one round trip and atomic as any statement, where a
// transaction of one statement per row took six. Its first event, its projection row, its
// outbox row and, for a keyed request, the key's answer; `k` gates the rest, so a key no
// longer in flight writes nothing. The projection's version is the event's ($2): a creation
// is version 1 of both. Constraint names are those of the separate statements.
macro_rules! create_writes {
    () => {
        concat!(
            "e AS (INSERT INTO booking_events (booking_id, version, type, payload, actor, at) \
                 SELECT $1, $2, $3, $4::jsonb, $5, $6 FROM k), \
             b AS (INSERT INTO bookings (id, reference, status, guest_id, hotel_id, hotel_owner_id, \
                 room_type_id, hold_id, check_in, check_out, hold_expires_at, version, document, \
                 created_at, updated_at) \
                 SELECT $1, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $2, $17::jsonb, $18, $19 \
                 FROM k), \
             o AS (INSERT INTO event_outbox (",
            innkeeper_events::outbox_columns!(),
            ") SELECT $20, $21, $22, $23, $24, $25, $26, $27, $28, $29 FROM k) \
             SELECT count(*) AS written FROM k"
        )
    };
}

const CREATE_KEYED: &str = concat!(
    "WITH k AS (UPDATE idempotency_keys SET status = 'completed', response_status = $30, \
         response_body = $31, completed_at = $32 \
         WHERE caller = $33 AND idempotency_key = $34 AND status = 'in_flight' RETURNING 1), ",
    create_writes!()
);

const CREATE_UNKEYED: &str = concat!("WITH k AS (SELECT 1), ", create_writes!());

/// Records a new booking (one event from version 0, no room yet) with [`CREATE_KEYED`] or
/// [`CREATE_UNKEYED`].
async fn create(pool: &PgPool, append: &Append, event: &RecordedEvent) -> Result<(), AppendError> {
    let booking = &append.booking;
    let published = outbox_event(event, booking)?;
    let statement = match append.idempotency {
        Some(_) => CREATE_KEYED,
        None => CREATE_UNKEYED,
    };
    let query = sqlx::query(statement)
        .bind(booking.id.as_uuid())
        .bind(event.version)
        .bind(event.event.name())
        .bind(encode_payload(event))
        .bind(event.actor.to_stored())
        .bind(event.at)
        .bind(booking.reference.as_str())
        .bind(booking.status.as_str())
        .bind(booking.guest_id.as_uuid())
        .bind(booking.hotel_id.as_uuid())
        .bind(booking.hotel_owner_id.as_uuid())
        .bind(booking.room_type_id.as_uuid())
        .bind(booking.hold_id.as_uuid())
        .bind(booking.stay.check_in())
        .bind(booking.stay.check_out())
        .bind(booking.hold_expires_at)
        .bind(encode_document(booking)?)
        .bind(booking.created_at)
        .bind(booking.updated_at);
    let mut query = Outbox::bind_postgres(query, &published);
    if let Some(completion) = &append.idempotency {
        query = query
            .bind(i32::from(completion.response.status))
            .bind(&completion.response.body)
            .bind(completion.now)
            .bind(&completion.caller)
            .bind(&completion.key);
    }
    let written: i64 = match query.fetch_one(pool).await {
        Ok(row) => row.try_get("written").map_err(internal)?,
        Err(err) => {
            return Err(match violated_constraint(&err) {
                Some("booking_events_pkey" | "bookings_pkey") => {
                    AppendError::VersionMismatch { current: -1 }
                }
                Some("bookings_reference_key") => AppendError::ReferenceTaken,
                _ => db_error(err).into(),
            });
        }
    };
    if written == 0 {
        return Err(Error::conflict("the idempotency key is not in flight").into());
    }
    Outbox::notify_written();
    Ok(())
}

async fn insert_event(tx: &mut Tx, event: &RecordedEvent) -> Result<(), AppendError> {
    let inserted = sqlx::query(INSERT_EVENT)
        .bind(event.booking_id.as_uuid())
        .bind(event.version)
        .bind(event.event.name())
        .bind(encode_payload(event))
        .bind(event.actor.to_stored())
        .bind(event.at)
        .execute(&mut **tx)
        .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(err) if violated_constraint(&err) == Some("booking_events_pkey") => {
            Err(AppendError::VersionMismatch { current: -1 })
        }
        Err(err) => Err(db_error(err).into()),
    }
}

async fn write_projection(
    tx: &mut Tx,
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
            .bind(booking.hold_expires_at)
            .bind(booking.version)
            .bind(document)
            .bind(booking.created_at)
            .bind(booking.updated_at)
            .execute(&mut **tx)
            .await;
        return match inserted {
            Ok(_) => Ok(()),
            Err(err) => match violated_constraint(&err) {
                Some("bookings_reference_key") => Err(AppendError::ReferenceTaken),
                Some("bookings_pkey") => Err(AppendError::VersionMismatch { current: -1 }),
                _ => Err(db_error(err).into()),
            },
        };
    }
    let updated = sqlx::query(UPDATE_BOOKING)
        .bind(booking.status.as_str())
        .bind(booking.room_type_id.as_uuid())
        .bind(booking.hold_id.as_uuid())
        .bind(booking.stay.check_in())
        .bind(booking.stay.check_out())
        .bind(booking.hold_expires_at)
        .bind(booking.version)
        .bind(document)
        .bind(booking.updated_at)
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

/// The class of the advisory locks on rooms (the two-key form: never the relays' one-key lock).
const ROOM_LOCK_CLASS: i32 = 0x524f_4f4d; // "ROOM"

/// Gives `room_id` to the booking for its stay; the exclusion constraint refuses a room that
/// holds another stay on one of those nights, even one committed a moment ago.
///
/// The room's advisory lock comes first, held to the end of the transaction: a second writer
/// of the room waits there and then meets the first one's committed row (or none), instead of
/// both inserting and each waiting inside the constraint for the other, which PostgreSQL ends
/// as a deadlock after `deadlock_timeout`. Should two rooms share a lock key (a hash) and be
/// taken in opposite orders, that deadlock is still possible: `Deadlocked`, and the append
/// runs again.
async fn assign_room(tx: &mut Tx, booking: &Booking, room_id: RoomId) -> Result<(), AppendError> {
    let inserted = sqlx::query(
        "WITH room AS (SELECT pg_advisory_xact_lock($6, hashtext($2::text))) \
         INSERT INTO room_assignments (booking_id, room_id, hotel_id, stay) \
         SELECT $1, $2, $3, daterange($4, $5) FROM room",
    )
    .bind(booking.id.as_uuid())
    .bind(room_id.as_uuid())
    .bind(booking.hotel_id.as_uuid())
    .bind(booking.stay.check_in())
    .bind(booking.stay.check_out())
    .bind(ROOM_LOCK_CLASS)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(err) if violated_constraint(&err) == Some("room_assignments_no_overlap") => {
            Err(AppendError::RoomTaken { room_id })
        }
        Err(err) if deadlocked(&err) => Err(AppendError::Deadlocked),
        Err(err) => Err(db_error(err).into()),
    }
}

pub(super) async fn append_in(tx: &mut Tx, append: &Append) -> Result<(), AppendError> {
    for event in &append.events {
        insert_event(tx, event).await?;
    }
    write_projection(tx, &append.booking, append.expected_version).await?;
    // Rooms are taken in id order, as every writer takes them: check-ins naming the same rooms
    // in other orders queue for them instead of deadlocking.
    let mut rooms = append.assignment.clone();
    rooms.sort_unstable();
    for room_id in rooms {
        assign_room(tx, &append.booking, room_id).await?;
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

const SELECT_EVENTS: &str = "SELECT booking_id, version, type, payload::text AS payload, actor, at \
     FROM booking_events WHERE booking_id = $1 ORDER BY version";

/// A booking's events, read inside a transaction.
pub(super) async fn events_in(tx: &mut Tx, id: BookingId) -> Result<Vec<RecordedEvent>> {
    let rows = sqlx::query(SELECT_EVENTS)
        .bind(id.as_uuid())
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    rows.iter().map(event_row).collect()
}

/// The booking a hold backs now, read inside a transaction.
pub(super) async fn booking_of_hold_in(tx: &mut Tx, hold_id: HoldId) -> Result<Option<BookingId>> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM bookings WHERE hold_id = $1")
        .bind(hold_id.as_uuid())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(id.map(BookingId))
}

fn event_row(row: &PgRow) -> Result<RecordedEvent> {
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
        row.try_get("at").map_err(internal)?,
    )
}

#[async_trait]
impl BookingStore for PgBookingStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        innkeeper_events::migrate(&innkeeper_platform::db::Database::Postgres(
            self.pool.clone(),
        ))
        .await
    }

    async fn append(&self, append: &Append) -> Result<(), AppendError> {
        check_append(append)?;
        let written = match (append.expected_version, append.events.as_slice()) {
            // The hot path: a booking's creation, one round trip.
            (0, [event]) if append.assignment.is_empty() => create(&self.pool, append, event).await,
            _ => self.append_in_transaction(append).await,
        };
        match written {
            Err(AppendError::VersionMismatch { .. }) => {
                let current = self.current_version(append.booking.id).await?;
                Err(AppendError::VersionMismatch { current })
            }
            other => other,
        }
    }

    async fn events(&self, id: BookingId) -> Result<Vec<RecordedEvent>> {
        let rows = sqlx::query(SELECT_EVENTS)
            .bind(id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(event_row).collect()
    }

    async fn get(&self, id: BookingId) -> Result<Option<Booking>> {
        let document: Option<String> =
            sqlx::query_scalar("SELECT document::text FROM bookings WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        document.as_deref().map(decode_document).transpose()
    }

    async fn get_by_reference(&self, reference: &Reference) -> Result<Option<Booking>> {
        let document: Option<String> =
            sqlx::query_scalar("SELECT document::text FROM bookings WHERE reference = $1")
                .bind(reference.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        document.as_deref().map(decode_document).transpose()
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<Booking>> {
        let documents: Vec<String> = sqlx::query_scalar(
            "SELECT document::text FROM bookings \
             WHERE ($1::uuid IS NULL OR guest_id = $1) AND ($2::uuid IS NULL OR hotel_id = $2) \
             AND ($3::text IS NULL OR status = $3) AND ($4::date IS NULL OR check_out > $4) \
             AND ($5::date IS NULL OR check_in < $5) \
             AND ($6::date IS NULL OR (check_in, id) > ($6, $7::uuid)) \
             ORDER BY check_in, id LIMIT $8",
        )
        .bind(filter.guest_id.map(|g| g.as_uuid()))
        .bind(filter.hotel_id.map(|h| h.as_uuid()))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.after.map(|(day, _)| day))
        .bind(filter.after.map(|(_, id)| id.as_uuid()))
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        documents.iter().map(|d| decode_document(d)).collect()
    }

    async fn claim(&self, claim: &Claim) -> Result<Claimed> {
        keys::claim(&self.pool, claim).await
    }

    async fn complete(&self, completion: &Completion) -> Result<()> {
        keys::complete(&self.pool, completion).await
    }

    async fn abandon(&self, caller: &str, key: &str, now: OffsetDateTime) -> Result<()> {
        keys::abandon(&self.pool, caller, key, now).await
    }

    async fn reap_idempotency_keys(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
        keys::reap(&self.pool, before, limit).await
    }
}

impl PgBookingStore {
    /// Any other append: one statement per row in one transaction, run again (up to
    /// [`DEADLOCK_ATTEMPTS`] times in all) when PostgreSQL ended it to break a deadlock.
    async fn append_in_transaction(&self, append: &Append) -> Result<(), AppendError> {
        let mut attempt = 1;
        loop {
            let mut tx = self.begin().await?;
            let result = match append_in(&mut tx, append).await {
                Ok(()) => tx.commit().await.map_err(|e| db_error(e).into()),
                Err(err) => {
                    let _ = tx.rollback().await;
                    Err(err)
                }
            };
            match result {
                Err(AppendError::Deadlocked) if attempt < DEADLOCK_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    async fn current_version(&self, id: BookingId) -> Result<i64> {
        let current: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM booking_events WHERE booking_id = $1")
                .bind(id.as_uuid())
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(current.unwrap_or(0))
    }
}

/// A migrated store on a fresh test database, or `None` (skipped) off CI without PostgreSQL.
/// Its pool is capped at 16 connections so racing tests stay under the server's limit.
#[cfg(test)]
pub(crate) async fn test_store()
-> Option<(PgBookingStore, innkeeper_platform::testing::TestDatabase)> {
    let database = innkeeper_platform::testing::TestDatabase::postgres().await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .connect(&database.url)
        .await
        .expect("connect to the test database");
    let store = PgBookingStore::new(pool);
    store.migrate().await.expect("migrate");
    Some((store, database))
}
