//! Database connections, chosen by URL: `sqlite:` for the embedded shape, `postgres:` for the
//! distributed one.
//!
//! SQLite gets two pools on one file: a single-connection writer (writes are serialised in the
//! process, so they never meet `SQLITE_BUSY` from each other) and a pool of read-only
//! connections (WAL lets reads run beside the writer).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// SQL (PostgreSQL), a condition that is always true: the statement's own transaction commits
/// without waiting for its WAL to reach the disk (`synchronous_commit = off` for that
/// transaction only; the connection keeps its setting). For bookkeeping that a crash may
/// lose because the system redoes it (an idempotency key's claim, an event's publication or
/// delivery): nothing is ever inconsistent, the last such commits before a crash are simply
/// not there after it, and a later durable commit on the same server flushes them anyway
/// (one write-ahead log). Only in a statement that is a transaction of its own, or in a
/// transaction made only of such bookkeeping. ARCHITECTURE.md, "Commits that do not wait".
#[macro_export]
macro_rules! commit_without_flush {
    () => {
        "(SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL"
    };
}

/// The constraint a statement violated, if that is why it failed.
pub fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// Whether PostgreSQL ended the statement's transaction to break a deadlock (SQLSTATE 40P01):
/// nothing of it was written, and it may run again.
pub fn deadlocked(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("40P01"))
}

/// A connected database of either backend.
#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite: one writer connection, several readers.
    Sqlite(SqliteDb),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// The two pools of an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    /// The only connection that writes.
    pub writer: SqlitePool,
    /// Read-only connections.
    pub reader: SqlitePool,
}

/// Pool sizing.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Most connections (PostgreSQL) or readers (SQLite).
    pub max_connections: u32,
    /// How long to wait for a connection.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Database {
    /// Connects to `url`, creating an SQLite file if it does not exist.
    pub async fn connect(url: &str, options: PoolOptions) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Database::Sqlite(connect_sqlite(url, options).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(url)))?;
            Ok(Database::Postgres(pool))
        } else {
            anyhow::bail!(
                "unsupported database URL {:?}: use sqlite:... or postgres://...",
                redact(url)
            )
        }
    }

    /// The backend's name, for logs and metrics.
    pub fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// Answers whether the database takes queries (readiness).
    pub async fn ping(&self) -> bool {
        let result = match self {
            Database::Sqlite(db) => sqlx::query("SELECT 1")
                .execute(&db.reader)
                .await
                .map(|_| ()),
            Database::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()),
        };
        result.is_ok()
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            Database::Sqlite(db) => {
                db.writer.close().await;
                db.reader.close().await;
            }
            Database::Postgres(pool) => pool.close().await,
        }
    }
}

async fn connect_sqlite(url: &str, options: PoolOptions) -> anyhow::Result<SqliteDb> {
    let base = SqliteConnectOptions::from_str(url)
        .context("invalid SQLite URL")?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-16000");
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(base.clone())
        .await
        .with_context(|| format!("cannot open SQLite database {url}"))?;
    let reader = SqlitePoolOptions::new()
        .max_connections(options.max_connections.clamp(1, 64))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(base.read_only(true))
        .await
        .with_context(|| format!("cannot open SQLite database {url} for reading"))?;
    Ok(SqliteDb { writer, reader })
}

/// A URL with its password replaced, safe to log.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/catalog"),
            "postgres://app:***@db:5432/catalog"
        );
        assert_eq!(
            redact("postgres://app@db/catalog"),
            "postgres://app@db/catalog"
        );
        assert_eq!(
            redact("sqlite://data/catalog.db"),
            "sqlite://data/catalog.db"
        );
    }

    #[tokio::test]
    async fn a_commit_without_flush_is_its_transactions_alone() {
        let Some(test_db) = crate::testing::TestDatabase::postgres().await else {
            return;
        };
        let Database::Postgres(pool) = &test_db.db else {
            panic!("a PostgreSQL test database");
        };
        let mut conn = pool.acquire().await.expect("connection");
        let mode = "SELECT current_setting('synchronous_commit')";
        let before: String = sqlx::query_scalar(mode)
            .fetch_one(&mut *conn)
            .await
            .expect("mode");
        // The condition holds, and the statement's transaction commits without waiting ...
        let (holds, during): (bool, String) = sqlx::query_as(concat!(
            "SELECT ",
            commit_without_flush!(),
            ", current_setting('synchronous_commit')"
        ))
        .fetch_one(&mut *conn)
        .await
        .expect("condition");
        assert!(holds);
        assert_eq!(during, "off");
        // ... while the connection, which later durable writes reuse, keeps its setting.
        let after: String = sqlx::query_scalar(mode)
            .fetch_one(&mut *conn)
            .await
            .expect("mode");
        assert_eq!(after, before);
        assert_ne!(after, "off");
    }
}
