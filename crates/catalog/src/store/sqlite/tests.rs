//! SQLite-only tests (the shared behaviour is in the contract suite).

use std::sync::Arc;

use innkeeper_kernel::ErrorCode;
use innkeeper_platform::db::{Database, PoolOptions, SqliteDb};
use innkeeper_platform::testing::TestDatabase;
use tokio::sync::Barrier;

use super::SqliteCatalogStore;
use crate::store::CatalogStore;
use crate::store::contract::{counters, day, new_hold, seed};

fn sqlite(db: &Database) -> SqliteDb {
    match db {
        Database::Sqlite(db) => db.clone(),
        Database::Postgres(_) => panic!("expected SQLite"),
    }
}

/// Two stores with their own writer connections on one file behave like two processes:
/// `BEGIN IMMEDIATE` serialises them, so the last room still goes to exactly one caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_on_one_file_never_oversell() {
    let database = TestDatabase::sqlite().await;
    let first: Arc<dyn CatalogStore> = Arc::new(SqliteCatalogStore::new(sqlite(&database.db)));
    first.migrate().await.expect("migrate");
    let other_process = Database::connect(&database.url, PoolOptions::default())
        .await
        .expect("second connection");
    let second: Arc<dyn CatalogStore> = Arc::new(SqliteCatalogStore::new(sqlite(&other_process)));
    let (_, rt) = seed(&first, 1).await;

    for round in 0..5 {
        let (check_in, check_out) = (day(4 * round), day(4 * round + 3));
        let start = Arc::new(Barrier::new(32));
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let store = Arc::clone(if i % 2 == 0 { &first } else { &second });
                let (start, request) = (Arc::clone(&start), new_hold(&rt, check_in, check_out, 1));
                tokio::spawn(async move {
                    start.wait().await;
                    store.place_hold(&request).await
                })
            })
            .collect();
        let mut codes = Vec::new();
        for task in tasks {
            codes.push(task.await.expect("task").err().map(|e| e.code));
        }
        assert_eq!(
            codes.iter().filter(|c| c.is_none()).count(),
            1,
            "round {round}: {codes:?}"
        );
        assert_eq!(
            codes
                .iter()
                .filter(|c| **c == Some(ErrorCode::SoldOut))
                .count(),
            31,
            "round {round}: {codes:?}"
        );
        assert_eq!(
            counters(&second, &rt, check_in, check_out).await,
            [Some((1, 1, 0)); 3]
        );
    }
    other_process.close().await;
}

/// The CHECK constraint refuses an oversold night even from SQL that skips the store.
#[tokio::test]
async fn the_table_itself_refuses_an_oversold_night() {
    let database = TestDatabase::sqlite().await;
    let db = sqlite(&database.db);
    let store: Arc<dyn CatalogStore> = Arc::new(SqliteCatalogStore::new(db.clone()));
    store.migrate().await.expect("migrate");
    let (_, rt) = seed(&store, 1).await;
    store
        .place_hold(&new_hold(&rt, day(0), day(1), 1))
        .await
        .expect("hold");
    let err = sqlx::query("UPDATE room_nights SET sold = sold + 1 WHERE room_type_id = ?")
        .bind(rt.id.0)
        .execute(&db.writer)
        .await
        .expect_err("held + sold would exceed total");
    assert!(super::rows::is_check_violation(&err), "{err}");
}
