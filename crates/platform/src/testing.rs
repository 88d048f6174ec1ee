//! Helpers for tests: a fresh database per test, dropped afterwards; a temporary directory; the
//! calls of a client whose downstream stays down.
//!
//! PostgreSQL tests use `INNKEEPER_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) as the admin connection. When it is
//! unreachable they fail if `CI` is set, and are skipped with a loud message otherwise.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection as _;

use crate::db::{Database, PoolOptions};
use crate::resilience::{BreakerConfig, ResilienceConfig};

/// Calls tried once each within `timeout`, whose breaker opens after `failures` failures in a
/// row and stays open for a minute: a test sees the breaker open and stay open.
pub fn breaker_opening_after(failures: u32, timeout: std::time::Duration) -> ResilienceConfig {
    ResilienceConfig {
        max_attempts: 1,
        breaker: BreakerConfig {
            consecutive_failures: failures,
            open_ms: 60_000,
            ..BreakerConfig::default()
        },
        ..ResilienceConfig::within(timeout)
    }
}

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// The connected database.
    pub db: Database,
    /// Its URL (for starting a second process on it).
    pub url: String,
    cleanup: Cleanup,
    _dir: Option<TempDir>,
}

#[derive(Debug)]
enum Cleanup {
    None,
    DropPostgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh SQLite database in a temporary directory.
    pub async fn sqlite() -> TestDatabase {
        let dir = TempDir::new("sqlite");
        let url = format!("sqlite://{}/test.db", dir.path.display());
        let db = Database::connect(&url, PoolOptions::default())
            .await
            .expect("open test SQLite database");
        TestDatabase {
            db,
            url,
            cleanup: Cleanup::None,
            _dir: Some(dir),
        }
    }

    /// A fresh PostgreSQL database, or `None` (skipped, loudly) off CI when PostgreSQL is down.
    pub async fn postgres() -> Option<TestDatabase> {
        let admin_url = std::env::var("INNKEEPER_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(conn) => conn,
            Err(err) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL is required in CI but unreachable at {admin_url}: {err}");
                }
                eprintln!(
                    "\n*** SKIPPED: PostgreSQL unreachable at {admin_url} ({err}); set INNKEEPER_TEST_POSTGRES_URL ***\n"
                );
                return None;
            }
        };
        let name = unique_name("ink_test");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        let url = replace_database(&admin_url, &name);
        let db = Database::connect(
            &url,
            PoolOptions {
                max_connections: 20,
                ..PoolOptions::default()
            },
        )
        .await
        .expect("connect to test database");
        Some(TestDatabase {
            db,
            url,
            cleanup: Cleanup::DropPostgres { admin_url, name },
            _dir: None,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::DropPostgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which may be single-threaded and blocked here:
            // never touch the test's pool; force the drop from a fresh connection instead.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut admin)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    /// Where it is.
    pub path: std::path::PathBuf,
}

impl TempDir {
    /// A new empty directory under the system temp dir.
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique_name(&format!("innkeeper_{prefix}")));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}_{}_{}_{n}",
        std::process::id(),
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..8)
            .unwrap_or("x")
    )
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            replace_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
