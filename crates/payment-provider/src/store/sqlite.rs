//! SQLite backend of the provider store (the embedded shape).
//!
//! Reads use the reader pool. Every write is one transaction on the writer pool begun with
//! `BEGIN IMMEDIATE`: it holds the write lock from its first statement, so the key lookup and
//! the writes that follow it see no other writer in between, and two processes on one file
//! serialise.

use innkeeper_platform::db::SqliteDb;

use super::sql::{intent_columns, sql_store};

/// A write transaction holding SQLite's write lock.
type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

/// The provider store on an SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteProviderStore {
    db: SqliteDb,
}

impl SqliteProviderStore {
    /// A store over an opened database (call [`ProviderStore::migrate`] before use).
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }

    async fn write(&self) -> Result<Tx> {
        self.db
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }

    fn reader(&self) -> &sqlx::SqlitePool {
        &self.db.reader
    }

    async fn run_migrations(&self) -> anyhow::Result<()> {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.dangerous_set_table_name(super::MIGRATIONS_TABLE);
        migrator.run(&self.db.writer).await?;
        Ok(())
    }
}

/// An instant as stored: microseconds since the epoch (PostgreSQL's precision).
fn to_db(at: OffsetDateTime) -> Result<i64> {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1000))
        .map_err(|_| Error::invalid_request(format!("instant {at} is out of range")))
}

/// The instant stored as `micros`.
fn from_db(micros: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|e| Error::internal(format!("stored instant {micros} out of range: {e}")))
}

/// A database failure no statement mapped: logged, never shown.
fn db_error(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::PoolTimedOut => {
            Error::unavailable("the provider database is busy; retry later")
        }
        other => Error::internal(format!("payment provider store (sqlite): {other}")),
    }
}

sql_store!(store: SqliteProviderStore, row: sqlx::sqlite::SqliteRow, instant: i64, claim_lock: "");

#[cfg(test)]
pub(crate) async fn test_store() -> (
    std::sync::Arc<dyn ProviderStore>,
    innkeeper_platform::testing::TestDatabase,
) {
    let database = innkeeper_platform::testing::TestDatabase::sqlite().await;
    let innkeeper_platform::db::Database::Sqlite(db) = &database.db else {
        unreachable!("TestDatabase::sqlite opens SQLite");
    };
    let store = SqliteProviderStore::new(db.clone());
    store.migrate().await.expect("migrate");
    (std::sync::Arc::new(store), database)
}
