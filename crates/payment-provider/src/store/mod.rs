//! Persistence of the provider: one contract ([`ProviderStore`]), two backends.
//!
//! Every change is one [`Change`] committed in one transaction: the idempotency key with its
//! answer, the intent (inserted, or updated if its version is still the one read), a refund,
//! the ledger entries and the webhook deliveries it causes. So an answer is never stored
//! without its effect, money never moves without its webhook queued, and of two concurrent
//! changes to one intent exactly one commits (the other gets `version_mismatch` and decides
//! again on fresh state). The ledger allows one capture per intent (a unique index): the
//! backstop behind "no double charge".
//!
//! Both backends run the same statements (`sql.rs`): numbered parameters work on both; only
//! instants are typed per backend (INTEGER microseconds on SQLite, `timestamptz` on
//! PostgreSQL) and claiming deliveries adds `FOR UPDATE SKIP LOCKED` on PostgreSQL. Both pass
//! the same contract suite (`contract.rs`).

use std::sync::Arc;

use async_trait::async_trait;
use innkeeper_kernel::Result;
use time::OffsetDateTime;

use crate::domain::{LedgerEntry, PaymentIntent, Refund};

pub mod postgres;
mod sql;
pub mod sqlite;

#[cfg(test)]
mod contract;

/// The table recording this crate's migrations (so it can share a database with others).
const MIGRATIONS_TABLE: &str = "_payment_provider_migrations";

/// An idempotency key to store with the answer of the request that used it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub key: String,
    /// Hex SHA-256 of the operation and its parameters.
    pub fingerprint: String,
    /// The answer: HTTP status and JSON body.
    pub status: u16,
    pub body: String,
    pub created_at: OffsetDateTime,
}

/// A key already used, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

/// How a change writes its intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentWrite {
    /// A new intent.
    Insert(PaymentIntent),
    /// The intent as it is now, if the stored one still has `expected_version`.
    Update {
        intent: PaymentIntent,
        expected_version: i64,
    },
}

/// A webhook event to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The event id (`evt_...`), also the `webhook-id` of every attempt.
    pub event_id: String,
    pub event_type: String,
    /// The JSON body, signed as is.
    pub payload: String,
    pub created_at: OffsetDateTime,
}

/// Everything one request or settlement changes, committed together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub key: Option<NewKey>,
    pub intent: Option<IntentWrite>,
    pub refund: Option<Refund>,
    pub ledger: Vec<LedgerEntry>,
    pub deliveries: Vec<NewDelivery>,
}

/// What committing a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Everything was written.
    Applied,
    /// The key was used already: nothing was written; here is its first answer.
    Replay(StoredKey),
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub created_at: OffsetDateTime,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after its maximum age.
    Failed,
}

impl DeliveryStatus {
    /// The storage and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

/// A delivery as the admin view lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub last_error: Option<String>,
}

/// One attempt to deliver, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub event_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub started_at: OffsetDateTime,
    pub duration_ms: u64,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// Why it failed (connect error, timeout, non-2xx).
    pub error: Option<String>,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// Done.
    Delivered,
    /// Try again at this instant.
    Retry(OffsetDateTime),
    /// Too old: stop trying.
    GiveUp,
}

/// The provider's persistence contract.
///
/// Errors are domain errors: `version_mismatch` (an intent changed since it was read),
/// `conflict` (a concurrent request took the same idempotency key first: look it up again),
/// `unavailable` (the database is saturated); anything else is `internal`.
#[async_trait]
pub trait ProviderStore: Send + Sync + 'static {
    /// Creates the schema or brings it up to date.
    async fn migrate(&self) -> anyhow::Result<()>;

    /// Writes `change` in one transaction, unless its key was used already (then nothing is
    /// written and the key's first answer is returned).
    async fn commit(&self, change: &Change) -> Result<Committed>;
    /// The answer stored under an idempotency key.
    async fn find_key(&self, key: &str) -> Result<Option<StoredKey>>;
    /// Deletes keys created before `before`; returns how many.
    async fn prune_keys(&self, before: OffsetDateTime) -> Result<u64>;

    async fn get_intent(&self, id: &str) -> Result<Option<PaymentIntent>>;
    /// Up to `limit` `processing` intents due to settle at `now`, oldest first.
    async fn due_settlements(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<PaymentIntent>>;
    /// The refunds of an intent, oldest first.
    async fn refunds(&self, payment_intent: &str) -> Result<Vec<Refund>>;
    /// The ledger, of one intent or of all, in order of entry.
    async fn ledger(&self, payment_intent: Option<&str>) -> Result<Vec<LedgerEntry>>;

    /// Leases up to `limit` pending deliveries due at `now` until `lease_until` (a worker
    /// that dies lets them come back); concurrent workers never claim the same one.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>>;
    /// Logs an attempt and moves its delivery on (delivered, retry later, or failed).
    async fn finish_attempt(&self, attempt: &AttemptRecord, result: AttemptResult) -> Result<()>;
    /// The latest `limit` deliveries, newest first.
    async fn deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>>;
    /// The attempts of a delivery, in order.
    async fn attempts(&self, event_id: &str) -> Result<Vec<AttemptRecord>>;
}

/// The store for a database, migrated to the current schema.
pub async fn open(db: &innkeeper_platform::db::Database) -> anyhow::Result<Arc<dyn ProviderStore>> {
    let store: Arc<dyn ProviderStore> = match db {
        innkeeper_platform::db::Database::Sqlite(sqlite) => {
            Arc::new(sqlite::SqliteProviderStore::new(sqlite.clone()))
        }
        innkeeper_platform::db::Database::Postgres(pool) => {
            Arc::new(postgres::PgProviderStore::new(pool.clone()))
        }
    };
    store.migrate().await?;
    Ok(store)
}
