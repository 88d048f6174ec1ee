//! Persistence of payments: intents, refunds and webhook receipts, on SQLite or PostgreSQL.
//!
//! One store over both backends: every statement is written once and run on either
//! connection (ids are UUIDs, money and instants integers, so both decode alike); only the
//! locking reads differ (`FOR UPDATE` on PostgreSQL; SQLite's writer transaction, begun
//! `IMMEDIATE`, already excludes every other writer). Writes take a [`Tx`], the same
//! transaction type the event consumers are handed, so a use case, a webhook and a consumer
//! write alike, and the outbox row of a change ([`publish`]) commits with it.
//!
//! Both backends pass the same contract suite (`contract.rs`).

use innkeeper_events::{Event, Outbox, Tx};
use innkeeper_kernel::{Currency, Error, Money, Result, UserId};
use innkeeper_platform::db::Database;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{Intent, IntentPurpose, PaymentId, PaymentStatus, RefundRecord, RefundStatus};

/// The table recording this service's own migrations (the event tables have theirs).
const MIGRATIONS_TABLE: &str = "_payment_migrations";

/// Whether the provider must still be told to cancel an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelState {
    /// Nothing to tell.
    None,
    /// To be cancelled at the provider (the worker does it).
    Pending,
    /// Done (or nothing left to cancel there).
    Done,
}

impl CancelState {
    fn as_str(self) -> &'static str {
        match self {
            CancelState::None => "none",
            CancelState::Pending => "pending",
            CancelState::Done => "done",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [CancelState::None, CancelState::Pending, CancelState::Done]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// An intent with the bookkeeping of its cancellation at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredIntent {
    pub intent: Intent,
    pub cancel: CancelState,
    pub cancel_attempts: u32,
    pub cancel_next_at: OffsetDateTime,
    /// When a booking event first named the payment (its booking or change was recorded);
    /// `None` until then.
    pub adopted_at: Option<OffsetDateTime>,
}

impl StoredIntent {
    /// Whether the guest may still pay it (nothing captured, nothing given up).
    pub(crate) fn is_open(&self) -> bool {
        matches!(
            self.intent.status,
            PaymentStatus::Creating | PaymentStatus::RequiresPayment | PaymentStatus::Processing
        )
    }
}

/// A refund with the bookkeeping of its sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredRefund {
    pub refund: RefundRecord,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
}

/// The payment store.
#[derive(Debug, Clone)]
pub(crate) struct PaymentStore {
    db: Database,
}

/// Unix microseconds, the stored form of instants.
pub(crate) fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1000)).unwrap_or(i64::MAX)
}

fn from_micros(micros: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|e| Error::internal(format!("stored instant {micros}: {e}")))
}

/// A database failure no statement claimed: `unavailable` when the pool is exhausted,
/// otherwise internal (logged, never shown).
pub(crate) fn db_error(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::PoolTimedOut => {
            Error::unavailable("the payment database is busy; retry later")
        }
        other => Error::internal(format!("payment store: {other}")),
    }
}

macro_rules! intent_columns {
    () => {
        "id, booking_id, guest_id, reference, status, amount, currency, amount_refunded, \
         return_url, provider_intent_id, checkout_url, failure_code, failure_message, \
         provider_cancel, cancel_attempts, cancel_next_at, version, created_at, updated_at, \
         purpose, modification, adopted_at"
    };
}

macro_rules! refund_columns {
    () => {
        "id, payment_id, booking_id, refund_key, amount, currency, reason, status, \
         provider_refund_id, attempts, next_attempt_at, last_error, created_at, updated_at"
    };
}

#[derive(Debug, sqlx::FromRow)]
struct IntentRow {
    id: Uuid,
    booking_id: Uuid,
    guest_id: Uuid,
    reference: String,
    status: String,
    amount: i64,
    currency: String,
    amount_refunded: i64,
    return_url: String,
    provider_intent_id: Option<String>,
    checkout_url: Option<String>,
    failure_code: Option<String>,
    failure_message: Option<String>,
    provider_cancel: String,
    cancel_attempts: i64,
    cancel_next_at: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
    purpose: String,
    modification: i64,
    adopted_at: Option<i64>,
}

impl IntentRow {
    fn decode(self) -> Result<StoredIntent> {
        let currency = Currency::parse_field("currency", &self.currency)
            .map_err(|_| Error::internal(format!("stored currency {:?}", self.currency)))?;
        Ok(StoredIntent {
            intent: Intent {
                id: PaymentId(self.id),
                booking_id: self.booking_id,
                purpose: IntentPurpose::parse(&self.purpose).ok_or_else(|| {
                    Error::internal(format!("stored payment purpose {:?}", self.purpose))
                })?,
                modification: (self.modification > 0).then_some(self.modification),
                guest_id: UserId(self.guest_id),
                reference: self.reference,
                status: PaymentStatus::parse(&self.status).ok_or_else(|| {
                    Error::internal(format!("stored payment status {:?}", self.status))
                })?,
                amount: Money {
                    amount: self.amount,
                    currency,
                },
                amount_refunded: self.amount_refunded,
                checkout_url: self.checkout_url,
                return_url: self.return_url,
                provider_intent_id: self.provider_intent_id,
                failure_code: self.failure_code,
                failure_message: self.failure_message,
                refunds: Vec::new(),
                version: self.version,
                created_at: from_micros(self.created_at)?,
                updated_at: from_micros(self.updated_at)?,
            },
            cancel: CancelState::parse(&self.provider_cancel).ok_or_else(|| {
                Error::internal(format!("stored cancel state {:?}", self.provider_cancel))
            })?,
            cancel_attempts: u32::try_from(self.cancel_attempts).unwrap_or(u32::MAX),
            cancel_next_at: from_micros(self.cancel_next_at)?,
            adopted_at: self.adopted_at.map(from_micros).transpose()?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct RefundRow {
    id: Uuid,
    payment_id: Uuid,
    booking_id: Uuid,
    refund_key: String,
    amount: i64,
    currency: String,
    reason: String,
    status: String,
    provider_refund_id: Option<String>,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    #[allow(dead_code)]
    updated_at: i64,
}

impl RefundRow {
    fn decode(self) -> Result<StoredRefund> {
        let currency = Currency::parse_field("currency", &self.currency)
            .map_err(|_| Error::internal(format!("stored currency {:?}", self.currency)))?;
        Ok(StoredRefund {
            refund: RefundRecord {
                id: self.id,
                payment_id: PaymentId(self.payment_id),
                booking_id: self.booking_id,
                key: self.refund_key,
                amount: Money {
                    amount: self.amount,
                    currency,
                },
                reason: self.reason,
                status: RefundStatus::parse(&self.status).ok_or_else(|| {
                    Error::internal(format!("stored refund status {:?}", self.status))
                })?,
                provider_refund_id: self.provider_refund_id,
                last_error: self.last_error,
                created_at: from_micros(self.created_at)?,
            },
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            next_attempt_at: from_micros(self.next_attempt_at)?,
        })
    }
}

/// Runs `$body` with `$conn` bound to the reader of either backend.
macro_rules! on_reader {
    ($db:expr, $conn:ident => $body:expr) => {
        match $db {
            Database::Sqlite(sqlite) => {
                let $conn = &sqlite.reader;
                $body
            }
            Database::Postgres(pool) => {
                let $conn = pool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection of a transaction of either backend.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// Reads one row in a transaction, locked on PostgreSQL until the transaction ends.
macro_rules! locked_row {
    ($tx:expr, $row:ty, $select:literal, $($bind:expr),*) => {
        match $tx {
            Tx::Sqlite(tx) => sqlx::query_as::<_, $row>($select)
                $(.bind($bind))*
                .fetch_optional(&mut **tx)
                .await,
            Tx::Postgres(tx) => sqlx::query_as::<_, $row>(concat!($select, " FOR UPDATE"))
                $(.bind($bind))*
                .fetch_optional(&mut **tx)
                .await,
        }
    };
}

impl PaymentStore {
    /// A store on `db`; call [`PaymentStore::migrate`] before use.
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }

    /// The database.
    #[cfg(test)]
    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// Creates or updates the schema: this service's tables and the event tables.
    pub(crate) async fn migrate(&self) -> anyhow::Result<()> {
        match &self.db {
            Database::Sqlite(sqlite) => {
                let mut migrator = sqlx::migrate!("./migrations/sqlite");
                migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
                migrator.run(&sqlite.writer).await?;
            }
            Database::Postgres(pool) => {
                let mut migrator = sqlx::migrate!("./migrations/postgres");
                migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
                migrator.run(pool).await?;
            }
        }
        innkeeper_events::migrate(&self.db).await
    }

    /// Begins a write transaction.
    pub(crate) async fn begin(&self) -> Result<Tx> {
        Tx::begin(&self.db).await.map_err(db_error)
    }

    /// A payment by id.
    pub(crate) async fn intent(&self, id: PaymentId) -> Result<Option<StoredIntent>> {
        let row = on_reader!(&self.db, conn => sqlx::query_as::<_, IntentRow>(
            concat!("SELECT ", intent_columns!(), " FROM payment_intents WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(conn)
            .await);
        row.map_err(db_error)?.map(IntentRow::decode).transpose()
    }

    /// A booking's payment for its price: the one its latest change opened, else its first.
    pub(crate) async fn intent_for_booking(
        &self,
        booking_id: Uuid,
    ) -> Result<Option<StoredIntent>> {
        let row = on_reader!(&self.db, conn => sqlx::query_as::<_, IntentRow>(
            concat!("SELECT ", intent_columns!(), " FROM payment_intents \
                     WHERE booking_id = $1 AND purpose = 'booking' \
                     ORDER BY modification DESC LIMIT 1"))
            .bind(booking_id)
            .fetch_optional(conn)
            .await);
        row.map_err(db_error)?.map(IntentRow::decode).transpose()
    }

    /// A booking's payment opened for `modification` (0: the booking's own).
    pub(crate) async fn intent_for_change(
        &self,
        booking_id: Uuid,
        modification: i64,
    ) -> Result<Option<StoredIntent>> {
        let row = on_reader!(&self.db, conn => sqlx::query_as::<_, IntentRow>(
            concat!("SELECT ", intent_columns!(), " FROM payment_intents \
                     WHERE booking_id = $1 AND modification = $2"))
            .bind(booking_id)
            .bind(modification)
            .fetch_optional(conn)
            .await);
        row.map_err(db_error)?.map(IntentRow::decode).transpose()
    }

    /// Payments no booking event ever named, opened before `before` and still payable: their
    /// booking (or change) was never recorded.
    pub(crate) async fn orphans(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredIntent>> {
        let rows = on_reader!(&self.db, conn => sqlx::query_as::<_, IntentRow>(
            concat!("SELECT ", intent_columns!(), " FROM payment_intents \
                     WHERE adopted_at IS NULL AND created_at <= $1 \
                     AND status IN ('creating', 'requires_payment', 'processing') \
                     ORDER BY created_at LIMIT $2"))
            .bind(micros(before))
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await);
        rows.map_err(db_error)?
            .into_iter()
            .map(IntentRow::decode)
            .collect()
    }

    /// A payment's refunds, oldest first.
    pub(crate) async fn refunds(&self, payment_id: PaymentId) -> Result<Vec<StoredRefund>> {
        let rows = on_reader!(&self.db, conn => sqlx::query_as::<_, RefundRow>(
            concat!("SELECT ", refund_columns!(), " FROM payment_refunds WHERE payment_id = $1 \
                     ORDER BY created_at, id"))
            .bind(payment_id.0)
            .fetch_all(conn)
            .await);
        rows.map_err(db_error)?
            .into_iter()
            .map(RefundRow::decode)
            .collect()
    }

    /// Pending refunds due for an attempt at `now`, the most overdue first.
    pub(crate) async fn due_refunds(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredRefund>> {
        let rows = on_reader!(&self.db, conn => sqlx::query_as::<_, RefundRow>(
            concat!("SELECT ", refund_columns!(), " FROM payment_refunds \
                     WHERE status = 'pending' AND next_attempt_at <= $1 \
                     ORDER BY next_attempt_at LIMIT $2"))
            .bind(micros(now))
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await);
        rows.map_err(db_error)?
            .into_iter()
            .map(RefundRow::decode)
            .collect()
    }

    /// Intents to cancel at the provider, due at `now`.
    pub(crate) async fn due_cancels(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredIntent>> {
        let rows = on_reader!(&self.db, conn => sqlx::query_as::<_, IntentRow>(
            concat!("SELECT ", intent_columns!(), " FROM payment_intents \
                     WHERE provider_cancel = 'pending' AND cancel_next_at <= $1 \
                     ORDER BY cancel_next_at LIMIT $2"))
            .bind(micros(now))
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await);
        rows.map_err(db_error)?
            .into_iter()
            .map(IntentRow::decode)
            .collect()
    }

    /// Forgets webhook receipts older than `before`; returns how many.
    pub(crate) async fn prune_receipts(&self, before: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin().await?;
        let done = on_tx!(&mut tx, conn => sqlx::query(
            "DELETE FROM webhook_receipts WHERE received_at < $1")
            .bind(micros(before))
            .execute(conn)
            .await
            .map(|r| r.rows_affected()));
        let done = finish(tx, done.map_err(db_error)).await?;
        Ok(done)
    }
}

/// The payment service's outbox.
pub(crate) const OUTBOX: Outbox = Outbox::new(crate::contracts::SOURCE, crate::contracts::TOPIC);

/// Writes `event` to the outbox in the transaction.
pub(crate) async fn publish(tx: &mut Tx, event: &Event) -> Result<()> {
    let done = on_tx!(tx, conn => Outbox::append(conn, event).await);
    done.map_err(|e| Error::internal(format!("payment outbox: {e}")))
}

/// Ends `tx` as `result` says: commits after `Ok`, rolls back at once after `Err`.
pub(crate) async fn finish<T>(tx: Tx, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => {
            tx.commit().await.map_err(db_error)?;
            Ok(value)
        }
        Err(err) => {
            let _ = tx.rollback().await;
            Err(err)
        }
    }
}

mod writes;

pub(crate) use writes::*;

#[cfg(test)]
mod contract;
