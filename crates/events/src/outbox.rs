//! The outbox: events written in the producer's own transaction, and the queries the relay
//! runs on them.

use std::future::Future;

use innkeeper_platform::db::Database;
use sqlx::{PgConnection, SqliteConnection};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::envelope::{
    Event, JSON, Payload, current_trace_context, from_micros, micros, to_micros_precision,
};

/// The columns an outbox row is written with, in the order [`Outbox::bind_postgres`] binds
/// them: `INSERT INTO event_outbox (outbox_columns!()) VALUES (..)`.
#[macro_export]
macro_rules! outbox_columns {
    () => {
        "id, topic, source, type, subject, time, content_type, data, traceparent, tracestate"
    };
}

const INSERT_SQLITE: &str = concat!(
    "INSERT INTO event_outbox (",
    outbox_columns!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
);

const INSERT_POSTGRES: &str = concat!(
    "INSERT INTO event_outbox (",
    outbox_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
);

/// Binds an event's columns in the order of the insert statements.
macro_rules! bind_event {
    ($query:expr, $event:expr) => {
        $query
            .bind($event.id)
            .bind(&$event.topic)
            .bind(&$event.source)
            .bind(&$event.event_type)
            .bind(&$event.subject)
            .bind(micros($event.time))
            .bind(&$event.content_type)
            .bind(&$event.data)
            .bind(&$event.traceparent)
            .bind(&$event.tracestate)
    };
}

/// A producing service's outbox: the `source` and `topic` of the events it writes.
///
/// ```ignore
/// const OUTBOX: Outbox = Outbox::new("/innkeeper/catalog", "catalog.events");
/// let event = OUTBOX.event(room_type_id, &InventoryChanged { .. })?.at(now);
/// Outbox::append(&mut *tx, &event).await?; // in the transaction of the change
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outbox {
    source: &'static str,
    topic: &'static str,
}

impl Outbox {
    /// The outbox of the service `source` (a URI reference such as `/innkeeper/catalog`),
    /// publishing on `topic` (such as `catalog.events`).
    pub const fn new(source: &'static str, topic: &'static str) -> Self {
        Self { source, topic }
    }

    /// The topic its events are published on.
    pub fn topic(&self) -> &'static str {
        self.topic
    }

    /// A new event about `subject` (the aggregate id) carrying `payload` as JSON, with a fresh
    /// UUIDv7, the time now (see [`Event::at`]) and the current span's trace context.
    pub fn event<P: Payload>(
        &self,
        subject: impl std::fmt::Display,
        payload: &P,
    ) -> Result<Event, serde_json::Error> {
        let (traceparent, tracestate) = current_trace_context();
        Ok(Event {
            id: Uuid::now_v7(),
            source: self.source.to_owned(),
            event_type: P::TYPE.to_owned(),
            subject: subject.to_string(),
            time: to_micros_precision(OffsetDateTime::now_utc()),
            content_type: JSON.to_owned(),
            data: serde_json::to_vec(payload)?,
            traceparent,
            tracestate,
            topic: self.topic.to_owned(),
        })
    }

    /// Binds `event`'s outbox columns, in the order of [`outbox_columns!`], to `query`: for a
    /// producer on PostgreSQL that writes its change and its outbox row in one statement (one
    /// round trip instead of one per row), as `INSERT INTO event_outbox (outbox_columns!())
    /// VALUES ($n, ..)` inside its own. Call [`Outbox::notify_written`] once it has run.
    pub fn bind_postgres<'q>(
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
        event: &'q Event,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        bind_event!(query, event)
    }

    /// Wakes this process's relays after a statement that wrote outbox rows itself (see
    /// [`Outbox::bind_postgres`]); [`Outbox::append`] does it on its own.
    pub fn notify_written() {
        WRITTEN.notify_waiters();
    }

    /// Writes `event` to the outbox through `conn`, a connection inside the caller's
    /// transaction (`&mut *tx`): it is published if and only if that transaction commits.
    pub async fn append<C: OutboxConnection + ?Sized>(
        conn: &mut C,
        event: &Event,
    ) -> Result<(), sqlx::Error> {
        conn.insert_event(event).await?;
        WRITTEN.notify_waiters();
        Ok(())
    }
}

/// The relays of this process wait on it between passes: an append wakes them, so they look
/// every millisecond from then on (the row is visible once the appending transaction commits)
/// and an event written in this process goes out within a few milliseconds rather than at
/// the next idle poll. Rows written by other processes are found by polling.
static WRITTEN: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// What a relay waits on to hear of appends in this process.
pub(crate) fn written() -> &'static tokio::sync::Notify {
    &WRITTEN
}

/// A connection of either backend that can write outbox rows.
pub trait OutboxConnection: Send {
    /// Inserts one outbox row.
    fn insert_event(
        &mut self,
        event: &Event,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl OutboxConnection for SqliteConnection {
    async fn insert_event(&mut self, event: &Event) -> Result<(), sqlx::Error> {
        bind_event!(sqlx::query(INSERT_SQLITE), event)
            .execute(self)
            .await
            .map(drop)
    }
}

impl OutboxConnection for PgConnection {
    async fn insert_event(&mut self, event: &Event) -> Result<(), sqlx::Error> {
        bind_event!(sqlx::query(INSERT_POSTGRES), event)
            .execute(self)
            .await
            .map(drop)
    }
}

/// The columns of an event, as every query that reads events selects them.
macro_rules! event_columns {
    ($t:literal) => {
        concat!(
            $t,
            ".seq, ",
            $t,
            ".id, ",
            $t,
            ".topic, ",
            $t,
            ".source, ",
            $t,
            ".type, ",
            $t,
            ".subject, ",
            $t,
            ".time, ",
            $t,
            ".content_type, ",
            $t,
            ".data, ",
            $t,
            ".traceparent, ",
            $t,
            ".tracestate"
        )
    };
}
pub(crate) use event_columns;

/// An event as stored, with its outbox position.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub id: Uuid,
    pub topic: String,
    pub source: String,
    #[sqlx(rename = "type")]
    pub event_type: String,
    pub subject: String,
    pub time: i64,
    pub content_type: String,
    pub data: Vec<u8>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl EventRow {
    pub(crate) fn into_event(self) -> (i64, Event) {
        (
            self.seq,
            Event {
                id: self.id,
                source: self.source,
                event_type: self.event_type,
                subject: self.subject,
                time: from_micros(self.time),
                content_type: self.content_type,
                data: self.data,
                traceparent: self.traceparent,
                tracestate: self.tracestate,
                topic: self.topic,
            },
        )
    }
}

const HAS_UNSENT: &str = "SELECT EXISTS (SELECT 1 FROM event_outbox WHERE published_at IS NULL)";

/// Whether any row waits to be published: one cheap read (an SQLite reader), so an idle
/// relay takes no lock, no transaction and not the SQLite writer.
pub(crate) async fn has_unsent(db: &Database) -> Result<bool, sqlx::Error> {
    match db {
        Database::Sqlite(sqlite) => {
            sqlx::query_scalar(HAS_UNSENT)
                .fetch_one(&sqlite.reader)
                .await
        }
        Database::Postgres(pool) => sqlx::query_scalar(HAS_UNSENT).fetch_one(pool).await,
    }
}

/// Unsent rows and the age of the oldest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backlog {
    pub rows: i64,
    pub oldest: Option<OffsetDateTime>,
}

const BACKLOG: &str = "SELECT COUNT(*), MIN(time) FROM event_outbox WHERE published_at IS NULL";

/// How many rows wait to be published, and since when.
pub(crate) async fn backlog(db: &Database) -> Result<Backlog, sqlx::Error> {
    let (rows, oldest): (i64, Option<i64>) = match db {
        Database::Sqlite(sqlite) => sqlx::query_as(BACKLOG).fetch_one(&sqlite.reader).await?,
        Database::Postgres(pool) => sqlx::query_as(BACKLOG).fetch_one(pool).await?,
    };
    Ok(Backlog {
        rows,
        oldest: oldest.map(from_micros),
    })
}

/// Rows [`prune`] deletes at most per call.
pub(crate) const PRUNE_BATCH: u64 = 1000;

/// Deletes up to [`PRUNE_BATCH`] rows published before `before` that no in-process consumer
/// still needs; returns how many.
pub(crate) async fn prune(db: &Database, before: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let done = match db {
        Database::Sqlite(sqlite) => {
            sqlx::query(
                "DELETE FROM event_outbox WHERE seq IN (SELECT o.seq FROM event_outbox o \
                 WHERE o.published_at < ? AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.seq = o.seq) \
                 LIMIT 1000)",
            )
            .bind(micros(before))
            .execute(&sqlite.writer)
            .await?
                    .rows_affected()
        }
        Database::Postgres(pool) => {
            sqlx::query(
                "DELETE FROM event_outbox WHERE seq IN (SELECT o.seq FROM event_outbox o \
                 WHERE o.published_at < $1 AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.seq = o.seq) \
                 LIMIT 1000)",
            )
            .bind(micros(before))
            .execute(pool)
            .await?
                    .rows_affected()
        }
    };
    Ok(done)
}
