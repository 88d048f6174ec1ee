//! Consumers: one API for every transport. Implement [`Consumer`]; a
//! [`crate::Dispatcher`] runs it with an inbox, retries and dead letters.

use std::time::Duration;

use async_trait::async_trait;
use innkeeper_platform::db::Database;
use sqlx::{Postgres, Sqlite};

use crate::envelope::Event;

/// A transaction on the consumer's own database: the handler writes its effects through it,
/// and they commit together with the inbox row.
#[derive(Debug)]
pub enum Tx {
    /// SQLite (begun `IMMEDIATE` on the writer connection).
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// Begins a write transaction on `db`.
    pub async fn begin(db: &Database) -> Result<Tx, sqlx::Error> {
        Ok(match db {
            Database::Sqlite(sqlite) => {
                Tx::Sqlite(sqlite.writer.begin_with("BEGIN IMMEDIATE").await?)
            }
            Database::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }

    /// Ends the transaction as `result` says: commits after `Ok`, rolls back after `Err` at
    /// once. A dropped transaction is rolled back only by the pool's release task a moment
    /// later, and until then keeps its locks: the next relay pass found its lock taken.
    pub async fn end<T, E: From<sqlx::Error>>(self, result: Result<T, E>) -> Result<T, E> {
        match self {
            Tx::Sqlite(tx) => end(tx, result).await,
            Tx::Postgres(tx) => end(tx, result).await,
        }
    }
}

/// Commits `tx` after `Ok`, rolls it back at once after `Err`; returns `result`.
pub(crate) async fn end<DB: sqlx::Database, T, E: From<sqlx::Error>>(
    tx: sqlx::Transaction<'static, DB>,
    result: Result<T, E>,
) -> Result<T, E> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(err) => {
            let _ = tx.rollback().await;
            Err(err)
        }
    }
}

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    message: String,
    permanent: bool,
}

impl HandlerError {
    /// A failure that may pass (a busy database, an unreachable service): tried again.
    pub fn retry(cause: impl std::fmt::Display) -> Self {
        Self {
            message: cause.to_string(),
            permanent: false,
        }
    }

    /// A failure that will not pass (a payload this consumer cannot read): straight to the
    /// dead letters.
    pub fn reject(cause: impl std::fmt::Display) -> Self {
        Self {
            message: cause.to_string(),
            permanent: true,
        }
    }

    /// Whether retrying is pointless.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        Self::retry(err)
    }
}

impl From<crate::DecodeError> for HandlerError {
    fn from(err: crate::DecodeError) -> Self {
        Self::reject(err)
    }
}

/// Something that reacts to events. Implement it once; it runs on the in-process bus and on
/// Kafka alike.
#[async_trait]
pub trait Consumer: Send + Sync + 'static {
    /// A stable name: the inbox key, the Kafka consumer group, the bus subscription.
    fn name(&self) -> &str;

    /// The topics it reads.
    fn topics(&self) -> Vec<String>;

    /// Whether it acts on `event` at all. An event it does not want is acknowledged without a
    /// transaction or an inbox row: a handler that would do nothing needs no once-only guard,
    /// and a topic's other events then cost the consumer's database nothing. Decided from the
    /// event alone (its type, or its decoded payload), never from the database. Every event by
    /// default.
    fn wants(&self, event: &Event) -> bool {
        let _ = event;
        true
    }

    /// Handles one event, writing its effects through `tx` (committed by the caller together
    /// with the inbox row). Events of one subject arrive in order; an event may arrive again
    /// after a crash, but is handed here again only if no earlier call committed.
    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError>;
}

/// How a consumer retries and polls.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Handler attempts before an event goes to the dead letters.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub backoff: Duration,
    /// How long an idle consumer waits before looking again (the bus also wakes it).
    pub poll_interval: Duration,
    /// Most events fetched at once.
    pub batch_size: u32,
    /// How long inbox rows are kept: the window within which a redelivery is recognised.
    /// Keep it longer than the outbox retention and the Kafka topic retention.
    pub inbox_retention: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff: Duration::from_millis(100),
            poll_interval: Duration::from_millis(20),
            batch_size: 256,
            inbox_retention: Duration::from_secs(7 * 86_400),
        }
    }
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The handler's effects committed.
    Handled,
    /// Handled before: nothing done.
    Duplicate,
    /// Given up: recorded in the dead letters.
    DeadLettered,
    /// Not for this consumer ([`Consumer::wants`]): acknowledged, nothing recorded.
    Ignored,
}
