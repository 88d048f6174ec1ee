//! The store contract suite: one set of tests every [`BookingStore`] backend must pass.
//!
//! Each test is a `pub(crate) async fn name(store: Arc<dyn BookingStore>, db: &Database)` in a
//! submodule; [`contract_suite!`] turns the list into one `#[tokio::test]` per test for a
//! backend, given an async factory returning the migrated store and the database that must
//! outlive it (`None` skips: PostgreSQL off CI).

use std::sync::Arc;

use innkeeper_platform::db::Database;

use crate::domain::booking::Decided;
use crate::store::{Append, BookingStore};

mod idempotency;
mod lists;
mod rooms;
mod streams;

macro_rules! contract_suite {
    ($factory:path) => {
        contract_suite!(@tests $factory;
            streams::appended_events_rebuild_the_projected_booking,
            streams::a_stale_or_future_expected_version_is_a_mismatch,
            streams::of_concurrent_appends_at_one_version_exactly_one_wins,
            streams::a_taken_reference_stores_nothing,
            streams::outbox_rows_exist_exactly_for_committed_events,
            idempotency::a_key_runs_once_then_replays,
            idempotency::a_key_completes_with_its_effect_or_not_at_all,
            idempotency::abandoned_claims_are_taken_over_with_their_resource,
            idempotency::of_concurrent_claims_exactly_one_runs,
            idempotency::old_keys_are_reaped,
            rooms::a_room_never_holds_two_overlapping_stays,
            rooms::check_ins_racing_for_the_same_rooms_have_one_winner,
            lists::lists_filter_and_page_by_check_in,
        );
    };
    (@tests $factory:path; $($module:ident :: $test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let Some((store, database)) = $factory().await else {
                    return;
                };
                $crate::store::contract::$module::$test(store, &database.db).await;
            }
        )*
    };
}

/// The append of a decided change.
pub(crate) fn append_of(decided: &Decided) -> Append {
    Append {
        expected_version: decided.event.version - 1,
        events: vec![decided.event.clone()],
        booking: decided.booking.clone(),
        idempotency: None,
        assignment: Vec::new(),
    }
}

/// Stores a new booking and returns it as decided.
pub(crate) async fn stored_booking(store: &Arc<dyn BookingStore>) -> Decided {
    let decided = crate::fixtures::new_booking();
    store
        .append(&append_of(&decided))
        .await
        .expect("append created");
    decided
}

/// `(type, subject, topic)` of every outbox row, in order.
pub(crate) async fn outbox_rows(db: &Database) -> Vec<(String, String, String)> {
    const SQL: &str = "SELECT type, subject, topic FROM event_outbox ORDER BY seq";
    match db {
        Database::Sqlite(sqlite) => sqlx::query_as(SQL).fetch_all(&sqlite.reader).await,
        Database::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
    }
    .expect("read the outbox")
}

mod sqlite_backend {
    use std::sync::Arc;

    use innkeeper_platform::db::Database;
    use innkeeper_platform::testing::TestDatabase;

    use crate::store::BookingStore;
    use crate::store::sqlite::SqliteBookingStore;

    async fn factory() -> Option<(Arc<dyn BookingStore>, TestDatabase)> {
        let database = TestDatabase::sqlite().await;
        let Database::Sqlite(db) = database.db.clone() else {
            panic!("TestDatabase::sqlite() returned another backend");
        };
        let store: Arc<dyn BookingStore> = Arc::new(SqliteBookingStore::new(db));
        store.migrate().await.expect("migrate");
        Some((store, database))
    }

    contract_suite!(factory);
}

mod postgres_backend {
    use std::sync::Arc;

    use innkeeper_platform::testing::TestDatabase;

    use crate::store::BookingStore;

    async fn factory() -> Option<(Arc<dyn BookingStore>, TestDatabase)> {
        let (store, database) = crate::store::postgres::test_store().await?;
        let store: Arc<dyn BookingStore> = Arc::new(store);
        Some((store, database))
    }

    contract_suite!(factory);
}
