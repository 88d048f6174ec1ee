//! Dead letters: events a consumer gave up on, with the last error, kept in the consumer's
//! database until an operator retries or discards them.

use innkeeper_platform::db::Database;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::consumer::Tx;
use crate::dispatcher::record_in_inbox;
use crate::envelope::{Event, from_micros, micros};

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its own id (UUIDv7), what `retry` and `discard` take.
    pub id: Uuid,
    /// The consumer that gave up.
    pub consumer: String,
    /// The event, as delivered.
    pub event: Event,
    /// The last error.
    pub error: String,
    /// Handler attempts so far.
    pub attempts: u32,
    /// When it was last given up on.
    pub failed_at: OffsetDateTime,
    /// Whether a retry has been asked for and not yet run.
    pub retry_requested: bool,
}

#[derive(sqlx::FromRow)]
struct DeadLetterRow {
    id: Uuid,
    consumer: String,
    event_id: Uuid,
    topic: String,
    source: String,
    #[sqlx(rename = "type")]
    event_type: String,
    subject: String,
    time: i64,
    content_type: String,
    data: Vec<u8>,
    traceparent: Option<String>,
    tracestate: Option<String>,
    error: String,
    attempts: i32,
    failed_at: i64,
    retry_requested: bool,
}

impl From<DeadLetterRow> for DeadLetter {
    fn from(row: DeadLetterRow) -> Self {
        DeadLetter {
            id: row.id,
            consumer: row.consumer,
            event: Event {
                id: row.event_id,
                source: row.source,
                event_type: row.event_type,
                subject: row.subject,
                time: from_micros(row.time),
                content_type: row.content_type,
                data: row.data,
                traceparent: row.traceparent,
                tracestate: row.tracestate,
                topic: row.topic,
            },
            error: row.error,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            failed_at: from_micros(row.failed_at),
            retry_requested: row.retry_requested,
        }
    }
}

const COLUMNS: &str = "id, consumer, event_id, topic, source, type, subject, time, content_type, data, \
     traceparent, tracestate, error, attempts, failed_at, retry_requested";

/// The dead letters of one database, for operators.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    db: Database,
}

impl DeadLetters {
    /// The dead letters in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// All dead letters, or those of one consumer, oldest first.
    pub async fn list(&self, consumer: Option<&str>) -> Result<Vec<DeadLetter>, sqlx::Error> {
        let rows: Vec<DeadLetterRow> = match &self.db {
            Database::Sqlite(sqlite) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM event_dead_letters WHERE ?1 IS NULL OR consumer = ?1 ORDER BY failed_at, id"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(consumer)
                    .fetch_all(&sqlite.reader)
                    .await?
            }
            Database::Postgres(pool) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM event_dead_letters WHERE $1::text IS NULL OR consumer = $1 ORDER BY failed_at, id"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(consumer)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows.into_iter().map(DeadLetter::from).collect())
    }

    /// Asks the consumer to run its handler on the dead letter `id` again (it does so within
    /// a poll interval while it runs, else when it next starts). False if there is no such letter.
    pub async fn retry(&self, id: Uuid) -> Result<bool, sqlx::Error> {
        let done = match &self.db {
            Database::Sqlite(sqlite) => {
                sqlx::query("UPDATE event_dead_letters SET retry_requested = 1 WHERE id = ?")
                    .bind(id)
                    .execute(&sqlite.writer)
                    .await?
                    .rows_affected()
            }
            Database::Postgres(pool) => {
                sqlx::query("UPDATE event_dead_letters SET retry_requested = true WHERE id = $1")
                    .bind(id)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
        };
        Ok(done == 1)
    }

    /// Deletes the dead letter `id` for good (the event stays handled in the inbox). False if
    /// there is no such letter.
    pub async fn discard(&self, id: Uuid) -> Result<bool, sqlx::Error> {
        let done = match &self.db {
            Database::Sqlite(sqlite) => sqlx::query("DELETE FROM event_dead_letters WHERE id = ?")
                .bind(id)
                .execute(&sqlite.writer)
                .await?
                .rows_affected(),
            Database::Postgres(pool) => sqlx::query("DELETE FROM event_dead_letters WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(done == 1)
    }
}

/// Records a dead letter together with the inbox row, so a redelivery is not handled (nor
/// dead-lettered) again.
pub(crate) async fn record(
    db: &Database,
    consumer: &str,
    event: &Event,
    error: &str,
    attempts: u32,
) -> Result<(), sqlx::Error> {
    let mut tx = Tx::begin(db).await?;
    let result = record_in(&mut tx, consumer, event, error, attempts).await;
    tx.end(result).await
}

/// The body of [`record`], inside its transaction.
async fn record_in(
    tx: &mut Tx,
    consumer: &str,
    event: &Event,
    error: &str,
    attempts: u32,
) -> Result<(), sqlx::Error> {
    record_in_inbox(tx, consumer, event.id).await?;
    let id = Uuid::now_v7();
    let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
    let failed_at = micros(OffsetDateTime::now_utc());
    macro_rules! bind_letter {
        ($query:expr) => {
            $query
                .bind(id)
                .bind(consumer)
                .bind(event.id)
                .bind(&event.topic)
                .bind(&event.source)
                .bind(&event.event_type)
                .bind(&event.subject)
                .bind(micros(event.time))
                .bind(&event.content_type)
                .bind(&event.data)
                .bind(&event.traceparent)
                .bind(&event.tracestate)
                .bind(error)
                .bind(attempts)
                .bind(failed_at)
        };
    }
    match tx {
        Tx::Sqlite(conn) => {
            bind_letter!(sqlx::query(
                "INSERT INTO event_dead_letters (id, consumer, event_id, topic, source, type, subject, time, \
                 content_type, data, traceparent, tracestate, error, attempts, failed_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (consumer, event_id) DO NOTHING"
            ))
            .execute(&mut **conn)
            .await?;
        }
        Tx::Postgres(conn) => {
            bind_letter!(sqlx::query(
                "INSERT INTO event_dead_letters (id, consumer, event_id, topic, source, type, subject, time, \
                 content_type, data, traceparent, tracestate, error, attempts, failed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (consumer, event_id) DO NOTHING"
            ))
            .execute(&mut **conn)
            .await?;
        }
    }
    Ok(())
}

/// The dead letters of `consumer` with a retry requested.
pub(crate) async fn requested(
    db: &Database,
    consumer: &str,
) -> Result<Vec<DeadLetter>, sqlx::Error> {
    let rows: Vec<DeadLetterRow> = match db {
        Database::Sqlite(sqlite) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM event_dead_letters WHERE consumer = ? AND retry_requested = 1 ORDER BY failed_at, id LIMIT 100"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(consumer)
                .fetch_all(&sqlite.reader)
                .await?
        }
        Database::Postgres(pool) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM event_dead_letters WHERE consumer = $1 AND retry_requested ORDER BY failed_at, id LIMIT 100"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(consumer)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows.into_iter().map(DeadLetter::from).collect())
}

/// Deletes a dead letter inside the transaction of its successful retry.
pub(crate) async fn delete_in(tx: &mut Tx, id: Uuid) -> Result<(), sqlx::Error> {
    match tx {
        Tx::Sqlite(conn) => {
            sqlx::query("DELETE FROM event_dead_letters WHERE id = ?")
                .bind(id)
                .execute(&mut **conn)
                .await?;
        }
        Tx::Postgres(conn) => {
            sqlx::query("DELETE FROM event_dead_letters WHERE id = $1")
                .bind(id)
                .execute(&mut **conn)
                .await?;
        }
    }
    Ok(())
}

/// Records another failed retry.
pub(crate) async fn failed_again(db: &Database, id: Uuid, error: &str) -> Result<(), sqlx::Error> {
    let now = micros(OffsetDateTime::now_utc());
    match db {
        Database::Sqlite(sqlite) => {
            sqlx::query(
                "UPDATE event_dead_letters SET retry_requested = 0, attempts = attempts + 1, error = ?, failed_at = ? WHERE id = ?",
            )
            .bind(error)
            .bind(now)
            .bind(id)
            .execute(&sqlite.writer)
            .await?;
        }
        Database::Postgres(pool) => {
            sqlx::query(
                "UPDATE event_dead_letters SET retry_requested = false, attempts = attempts + 1, error = $1, failed_at = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}
