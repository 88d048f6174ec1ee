//! Persistence of bookings: one contract ([`BookingStore`]), two backends.
//!
//! The event stream is the source of truth. [`BookingStore::append`] writes, in one
//! transaction: the new events at versions `expected + 1 ..` (the primary key
//! `(booking_id, version)` lets exactly one of two writers at the same expected version in:
//! the optimistic lock), the `bookings` projection (guarded by its version, so a stale
//! expected version can never leave a gap), one outbox event per booking event, and, when the
//! change answers an idempotent request, the completion of its idempotency key. So an event,
//! its projection, its publication and the stored response exist together or not at all.
//!
//! Both backends pass the same contract suite (`contract.rs`).

use async_trait::async_trait;
use innkeeper_events::Tx;
use innkeeper_kernel::{Error, HoldId, HotelId, Result, RoomId, UserId};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use crate::api::{Actor, Booking, BookingId, BookingStatus, Reference};
use crate::domain::events::{BookingEvent, RecordedEvent};

mod outbox;
pub(crate) mod postgres;
pub(crate) mod sqlite;

#[cfg(test)]
mod contract;

/// A change to append to one booking's stream.
#[derive(Debug, Clone)]
pub(crate) struct Append {
    /// The version the writer read (0 for a new booking).
    pub expected_version: i64,
    /// The new events, versions `expected_version + 1` onwards, all of one booking.
    pub events: Vec<RecordedEvent>,
    /// The booking after the events: the projection row.
    pub booking: Booking,
    /// The idempotent request this change answers, completed in the same transaction.
    pub idempotency: Option<Completion>,
    /// Physical rooms given to the booking for its stay (check-in), in the same transaction.
    pub assignment: Vec<RoomId>,
}

/// Why an append did not happen.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AppendError {
    /// The stream is not at the expected version (another writer got there first).
    VersionMismatch { current: i64 },
    /// A new booking's reference is taken: draw another and try again.
    ReferenceTaken,
    /// A room to assign holds another stay on some of these nights.
    RoomTaken { room_id: RoomId },
    /// PostgreSQL ended the transaction to break a deadlock: nothing was written, and the same
    /// append may run again (the store does, a few times).
    Deadlocked,
    /// Anything else.
    Failed(Error),
}

impl From<AppendError> for Error {
    fn from(err: AppendError) -> Self {
        match err {
            AppendError::VersionMismatch { current } => Error::version_mismatch(current),
            AppendError::ReferenceTaken => Error::conflict("the booking reference is taken"),
            AppendError::RoomTaken { room_id } => Error::conflict(format!(
                "room {room_id} is given to another stay on some of these nights"
            )),
            AppendError::Deadlocked => {
                Error::unavailable("the booking database is busy; retry later")
            }
            AppendError::Failed(err) => err,
        }
    }
}

impl From<Error> for AppendError {
    fn from(err: Error) -> Self {
        AppendError::Failed(err)
    }
}

/// Which bookings to list, already authorised and validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListFilter {
    pub guest_id: Option<UserId>,
    pub hotel_id: Option<HotelId>,
    pub status: Option<BookingStatus>,
    /// Stays with check-out after this day.
    pub from: Option<Date>,
    /// Stays with check-in before this day.
    pub to: Option<Date>,
    /// Only bookings after this `(check_in, id)` (the cursor).
    pub after: Option<(Date, BookingId)>,
    pub limit: u32,
}

/// A request to run under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    /// Whose key (keys are scoped to the caller).
    pub caller: String,
    pub key: String,
    /// SHA-256 of the operation, its path and its body.
    pub fingerprint: Vec<u8>,
    /// The id the request will create or act on, if it runs now.
    pub resource_id: Uuid,
    pub now: OffsetDateTime,
    /// How long a claim stays `in_flight` before another attempt may take it over.
    pub lease: Duration,
}

/// A response as stored for replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// Run the request, on this resource id (the claim's own, or the abandoned attempt's).
    Run { resource_id: Uuid },
    /// Done before: replay this response.
    Replay(StoredResponse),
    /// Another attempt with this key is running: 409.
    InFlight,
    /// The key was used for another request: 422.
    Mismatch,
}

/// The response of an idempotent request, stored under its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Completion {
    pub caller: String,
    pub key: String,
    pub response: StoredResponse,
    pub now: OffsetDateTime,
}

/// The booking service's persistence contract.
///
/// Errors are domain errors; database failures are `internal` (or `unavailable` when the
/// database is saturated).
#[async_trait]
pub(crate) trait BookingStore: Send + Sync + 'static {
    /// Creates the schema (and the event tables) or brings them up to date.
    async fn migrate(&self) -> anyhow::Result<()>;

    /// Appends events at the expected version, with projection, outbox and idempotency
    /// completion, all or nothing.
    async fn append(&self, append: &Append) -> std::result::Result<(), AppendError>;
    /// A booking's events, oldest first (empty if it does not exist).
    async fn events(&self, id: BookingId) -> Result<Vec<RecordedEvent>>;
    /// The projection of a booking.
    async fn get(&self, id: BookingId) -> Result<Option<Booking>>;
    /// The projection of a booking by reference.
    async fn get_by_reference(&self, reference: &Reference) -> Result<Option<Booking>>;
    /// Bookings matching the filter, ordered by `(check_in, id)`.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<Booking>>;

    /// Claims an idempotency key for a request (or finds what became of it).
    async fn claim(&self, claim: &Claim) -> Result<Claimed>;
    /// Completes a claimed key without any other effect (a request that failed after it
    /// began, whose error is its response). Completing a key that is not in flight is
    /// `conflict`.
    async fn complete(&self, completion: &Completion) -> Result<()>;
    /// Ends the lease of an in-flight key at `now`: its request failed in a way worth retrying
    /// (a dependency was down), so the next attempt runs at once, on the same resource id.
    async fn abandon(&self, caller: &str, key: &str, now: OffsetDateTime) -> Result<()>;
    /// Deletes up to `limit` keys created before `before`; returns how many.
    async fn reap_idempotency_keys(&self, before: OffsetDateTime, limit: u32) -> Result<u64>;
}

/// A booking's events, read in an event handler's transaction (on the consumer's database,
/// which is the booking database): see `app::payments`.
pub(crate) async fn events_in_tx(tx: &mut Tx, id: BookingId) -> Result<Vec<RecordedEvent>> {
    match tx {
        Tx::Sqlite(tx) => sqlite::events_in(tx, id).await,
        Tx::Postgres(tx) => postgres::events_in(tx, id).await,
    }
}

/// The booking the hold `hold_id` backs now, read in an event handler's transaction.
pub(crate) async fn booking_of_hold_in_tx(
    tx: &mut Tx,
    hold_id: HoldId,
) -> Result<Option<BookingId>> {
    match tx {
        Tx::Sqlite(tx) => sqlite::booking_of_hold_in(tx, hold_id).await,
        Tx::Postgres(tx) => postgres::booking_of_hold_in(tx, hold_id).await,
    }
}

/// [`BookingStore::append`] inside an event handler's transaction: the change commits with
/// the handler's inbox row, so a redelivered event finds it done. (On SQLite the handler's
/// transaction holds the only writer connection: appending through the store would wait for
/// itself.) A version mismatch reports `current: -1`; the handler retries on fresh state.
pub(crate) async fn append_in_tx(
    tx: &mut Tx,
    append: &Append,
) -> std::result::Result<(), AppendError> {
    check_append(append)?;
    match tx {
        Tx::Sqlite(tx) => sqlite::append_in(tx, append).await,
        Tx::Postgres(tx) => postgres::append_in(tx, append).await,
    }
}

/// Checks an append before it touches the database.
fn check_append(append: &Append) -> Result<()> {
    let id = append.booking.id;
    let consecutive = append.events.iter().enumerate().all(|(i, e)| {
        e.booking_id == id
            && i64::try_from(i).map(|i| append.expected_version + 1 + i) == Ok(e.version)
    });
    let last = append.events.last().map(|e| e.version);
    if append.events.is_empty() || !consecutive || last != Some(append.booking.version) {
        return Err(Error::internal(format!(
            "booking {id}: append of versions {:?} after {} to reach {}",
            append.events.iter().map(|e| e.version).collect::<Vec<_>>(),
            append.expected_version,
            append.booking.version
        )));
    }
    Ok(())
}

/// An event read back from its stored columns.
fn decode_event(
    booking_id: Uuid,
    version: i64,
    event_type: &str,
    payload: &str,
    actor: &str,
    at: OffsetDateTime,
) -> Result<RecordedEvent> {
    let data: serde_json::Value = serde_json::from_str(payload)
        .map_err(|e| Error::internal(format!("booking {booking_id} v{version} payload: {e}")))?;
    let event = BookingEvent::from_stored(event_type, data)
        .map_err(|e| Error::internal(format!("booking {booking_id} v{version}: {e}")))?;
    let actor = Actor::from_stored(actor)
        .ok_or_else(|| Error::internal(format!("booking {booking_id} v{version} actor {actor}")))?;
    Ok(RecordedEvent {
        booking_id: BookingId(booking_id),
        version,
        event,
        actor,
        at,
    })
}

/// The stored payload of an event.
fn encode_payload(event: &RecordedEvent) -> String {
    event.event.data().to_string()
}

/// The stored document of a booking.
fn encode_document(booking: &Booking) -> Result<String> {
    serde_json::to_string(booking).map_err(|e| Error::internal(format!("booking document: {e}")))
}

/// A booking read back from its stored document.
fn decode_document(document: &str) -> Result<Booking> {
    serde_json::from_str(document).map_err(|e| Error::internal(format!("booking document: {e}")))
}

/// What a found key means for a new claim of it.
fn judge_claim(
    claim: &Claim,
    fingerprint: &[u8],
    status: &str,
    locked_until: OffsetDateTime,
    response: Option<StoredResponse>,
) -> Judgement {
    if fingerprint != claim.fingerprint.as_slice() {
        return Judgement::Answer(Claimed::Mismatch);
    }
    match (status, response) {
        ("completed", Some(response)) => Judgement::Answer(Claimed::Replay(response)),
        _ if locked_until > claim.now => Judgement::Answer(Claimed::InFlight),
        _ => Judgement::TakeOver,
    }
}

/// The decision on a key that exists.
enum Judgement {
    Answer(Claimed),
    /// An abandoned claim: extend its lease and run again on its resource id.
    TakeOver,
}

/// The SQLite backend.
pub(crate) fn sqlite_store(
    db: innkeeper_platform::db::SqliteDb,
) -> std::sync::Arc<dyn BookingStore> {
    std::sync::Arc::new(sqlite::SqliteBookingStore::new(db))
}

/// The PostgreSQL backend.
pub(crate) fn postgres_store(pool: sqlx::PgPool) -> std::sync::Arc<dyn BookingStore> {
    std::sync::Arc::new(postgres::PgBookingStore::new(pool))
}
