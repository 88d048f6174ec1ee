//! PostgreSQL backend of the provider store, for the distributed shape.
//!
//! Every statement is a `&'static str`, prepared once per connection. Concurrent changes to
//! one intent meet at its row: the second `UPDATE ... WHERE version = $2` waits for the first
//! to commit and then matches nothing (`version_mismatch`). Concurrent uses of one new
//! idempotency key meet at its primary key (`conflict` for the later one). Workers claim
//! deliveries with `FOR UPDATE SKIP LOCKED`, so they never wait for or share one.

use sqlx::PgPool;

use super::sql::{intent_columns, sql_store};

/// A write transaction.
type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// The provider store on a PostgreSQL database of its own.
#[derive(Debug, Clone)]
pub struct PgProviderStore {
    pool: PgPool,
}

impl PgProviderStore {
    /// A store on `pool`; call [`ProviderStore::migrate`] before use.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn write(&self) -> Result<Tx> {
        self.pool.begin().await.map_err(db_error)
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    async fn run_migrations(&self) -> anyhow::Result<()> {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.dangerous_set_table_name(super::MIGRATIONS_TABLE);
        migrator.run(&self.pool).await?;
        Ok(())
    }
}

/// An instant cut to `timestamptz`'s microseconds (as the SQLite backend stores it).
fn to_db(at: OffsetDateTime) -> Result<OffsetDateTime> {
    at.replace_nanosecond(at.nanosecond() / 1000 * 1000)
        .map_err(|e| Error::internal(format!("instant {at}: {e}")))
}

fn from_db(at: OffsetDateTime) -> Result<OffsetDateTime> {
    Ok(at)
}

/// A database failure no statement mapped: logged, never shown.
fn db_error(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::PoolTimedOut => {
            Error::unavailable("the provider database is busy; retry later")
        }
        other => Error::internal(format!("payment provider store (postgres): {other}")),
    }
}

sql_store!(store: PgProviderStore, row: sqlx::postgres::PgRow, instant: OffsetDateTime, claim_lock: "FOR UPDATE SKIP LOCKED");

#[cfg(test)]
pub(crate) async fn test_store() -> Option<(
    std::sync::Arc<dyn ProviderStore>,
    innkeeper_platform::testing::TestDatabase,
)> {
    let database = innkeeper_platform::testing::TestDatabase::postgres().await?;
    let innkeeper_platform::db::Database::Postgres(pool) = &database.db else {
        unreachable!("TestDatabase::postgres opens PostgreSQL");
    };
    let store = PgProviderStore::new(pool.clone());
    store.migrate().await.expect("migrate");
    Some((std::sync::Arc::new(store), database))
}
