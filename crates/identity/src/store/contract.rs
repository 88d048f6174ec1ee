//! The store contract suite: one set of tests every [`IdentityStore`] backend must pass.
//!
//! Each test is a `pub(crate) async fn name(store: Arc<dyn IdentityStore>)` in a submodule;
//! [`contract_suite!`] turns the whole list into one `#[tokio::test]` per test for a backend,
//! given an async factory returning the migrated store and the database that must outlive it
//! (`None` skips: PostgreSQL off CI). Add a test by writing the function and naming it in the
//! macro's list.

use std::sync::Arc;

use innkeeper_kernel::{Role, UserId};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::api::{NotificationPreferences, User};
use crate::store::{IdentityStore, NewRefreshToken, StoredUser};

mod keys;
mod refresh;
mod users;

/// Generates one test per contract test for a backend; `$factory` is an async fn returning
/// `Option<(Arc<dyn IdentityStore>, TestDatabase)>`.
macro_rules! contract_suite {
    ($factory:path) => {
        contract_suite!(@tests $factory;
            users::users_round_trip_and_emails_are_unique,
            users::concurrent_registrations_of_one_email_have_one_winner,
            users::profile_updates_check_the_version,
            refresh::a_token_rotates_once_and_its_reuse_revokes_the_family,
            refresh::expired_and_unknown_tokens_are_rejected,
            refresh::concurrent_uses_of_one_token_rotate_it_exactly_once,
            refresh::logout_revokes_one_family_or_all_of_a_user,
            refresh::expired_tokens_and_empty_families_are_pruned,
            keys::signing_keys_activate_retire_and_prune,
            keys::concurrent_starts_create_one_signing_key,
        );
    };
    (@tests $factory:path; $($module:ident :: $test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let Some((store, _database)) = $factory().await else {
                    return;
                };
                $crate::store::contract::$module::$test(store).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures shared by the tests
// ---------------------------------------------------------------------------------------------

/// The instant every fixture is created at (whole seconds: every backend stores them exactly).
pub(crate) const T0: OffsetDateTime = datetime!(2026-11-30 10:00 UTC);

/// An account that is not stored yet.
pub(crate) fn user(email: &str, role: Role) -> StoredUser {
    StoredUser {
        user: User {
            id: UserId::new(),
            email: email.to_owned(),
            name: "Ana Silva".to_owned(),
            role,
            phone: None,
            telegram_chat_id: None,
            notifications: NotificationPreferences::default(),
            version: 1,
            created_at: T0,
            updated_at: T0,
        },
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
            .to_owned(),
    }
}

/// A stored account.
pub(crate) async fn stored_user(store: &Arc<dyn IdentityStore>, email: &str) -> User {
    let user = user(email, Role::Guest);
    store.insert_user(&user).await.expect("insert user");
    user.user
}

/// A token hash distinct per `n` (the store never sees token values).
pub(crate) fn hash(n: u32) -> Vec<u8> {
    let mut hash = vec![0xab; 32];
    hash[..4].copy_from_slice(&n.to_be_bytes());
    hash
}

/// The first token of a new family of `user`, expiring a day after `T0`.
pub(crate) fn first_token(user: &User, n: u32) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: hash(n),
        family_id: uuid::Uuid::now_v7(),
        user_id: user.id,
        created_at: T0,
        expires_at: T0 + time::Duration::days(1),
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite backend
// ---------------------------------------------------------------------------------------------

mod sqlite_backend {
    use std::sync::Arc;

    use innkeeper_platform::db::Database;
    use innkeeper_platform::testing::TestDatabase;

    use crate::store::IdentityStore;
    use crate::store::sqlite::SqliteIdentityStore;

    async fn factory() -> Option<(Arc<dyn IdentityStore>, TestDatabase)> {
        let database = TestDatabase::sqlite().await;
        let Database::Sqlite(db) = database.db.clone() else {
            panic!("TestDatabase::sqlite() returned another backend");
        };
        let store: Arc<dyn IdentityStore> = Arc::new(SqliteIdentityStore::new(db));
        store.migrate().await.expect("migrate");
        Some((store, database))
    }

    contract_suite!(factory);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL backend
// ---------------------------------------------------------------------------------------------

mod postgres_backend {
    use std::sync::Arc;

    use innkeeper_platform::testing::TestDatabase;

    use crate::store::IdentityStore;

    async fn factory() -> Option<(Arc<dyn IdentityStore>, TestDatabase)> {
        let (store, database) = crate::store::postgres::test_store().await?;
        let store: Arc<dyn IdentityStore> = Arc::new(store);
        Some((store, database))
    }

    contract_suite!(factory);
}
