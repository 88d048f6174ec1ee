//! The demo accounts: a guest and the hoteliers who own the demo hotels, with documented
//! passwords so `innkeeper up` can print the logins.
//!
//! The first hotelier's id is [`Principal::DEVELOPMENT`]'s, the owner the catalog's demo
//! seeding uses, so the demo hotels belong to a real account.

use innkeeper_kernel::{ErrorCode, Principal, Result, Role, UserId};

use crate::api::{IdentityApi as _, User};
use crate::app::IdentityService;

/// The password of every demo account. Demo data only: never for a real deployment.
pub const DEMO_PASSWORD: &str = "innkeeper-demo-2026";

/// The demo guest's id.
pub const DEMO_GUEST_ID: UserId = UserId(uuid::Uuid::from_u128(
    0x0000_0000_0000_7000_8000_0000_0000_0d00,
));
/// The first demo hotelier's id: the development principal, owner of the demo hotels.
pub const DEMO_HOTELIER_ID: UserId = Principal::DEVELOPMENT.user_id;
/// A second demo hotelier's id (owns no demo hotel unless the seeding gives it some): the
/// "other hotelier" of access tests.
pub const DEMO_SECOND_HOTELIER_ID: UserId = UserId(uuid::Uuid::from_u128(
    0x0000_0000_0000_7000_8000_0000_0000_0d02,
));

/// One demo account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    pub id: UserId,
    pub email: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub password: &'static str,
}

impl DemoUser {
    /// The principal this account acts as.
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.id,
            role: self.role,
        }
    }
}

/// The demo guest.
pub const DEMO_GUEST: DemoUser = DemoUser {
    id: DEMO_GUEST_ID,
    email: "guest@innkeeper.test",
    name: "Gabriela Guest",
    role: Role::Guest,
    password: DEMO_PASSWORD,
};

/// The demo hotelier who owns the demo hotels.
pub const DEMO_HOTELIER: DemoUser = DemoUser {
    id: DEMO_HOTELIER_ID,
    email: "hotelier@innkeeper.test",
    name: "Henrique Hotelier",
    role: Role::Hotelier,
    password: DEMO_PASSWORD,
};

/// A second demo hotelier.
pub const DEMO_SECOND_HOTELIER: DemoUser = DemoUser {
    id: DEMO_SECOND_HOTELIER_ID,
    email: "hotelier2@innkeeper.test",
    name: "Helena Hotelier",
    role: Role::Hotelier,
    password: DEMO_PASSWORD,
};

/// Every demo account, in the order `innkeeper up` prints them.
pub const DEMO_USERS: [DemoUser; 3] = [DEMO_GUEST, DEMO_HOTELIER, DEMO_SECOND_HOTELIER];

/// Creates the demo accounts that do not exist yet (idempotent: run on every start of the
/// embedded shape). Returns the accounts created now.
pub async fn seed_demo(identity: &IdentityService) -> Result<Vec<User>> {
    let mut created = Vec::new();
    for demo in DEMO_USERS {
        // Skip existing accounts before paying for a password hash.
        if identity.me(&demo.principal()).await.is_ok() {
            continue;
        }
        match identity
            .create_user(
                demo.id,
                demo.email,
                demo.password.to_owned(),
                demo.name,
                demo.role,
            )
            .await
        {
            Ok(user) => created.push(user),
            Err(err) if err.code == ErrorCode::Conflict => {}
            Err(err) => return Err(err),
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use innkeeper_kernel::SystemClock;
    use innkeeper_platform::db::Database;
    use innkeeper_platform::testing::TestDatabase;

    use super::*;
    use crate::api::{IdentityApi, Login};
    use crate::app::IdentitySettings;

    #[tokio::test]
    async fn demo_accounts_log_in_and_seeding_twice_creates_nothing() {
        let database = TestDatabase::sqlite().await;
        let Database::Sqlite(db) = database.db.clone() else {
            panic!("sqlite");
        };
        let store = crate::store::sqlite_store(db);
        store.migrate().await.expect("migrate");
        let identity =
            IdentityService::new(store, Arc::new(SystemClock), IdentitySettings::default());
        let created = seed_demo(&identity).await.expect("seeded");
        assert_eq!(created.len(), 3);
        assert_eq!(created[1].id, Principal::DEVELOPMENT.user_id);
        assert_eq!(created[1].principal(), Principal::DEVELOPMENT);
        assert!(seed_demo(&identity).await.expect("again").is_empty());
        for demo in DEMO_USERS {
            identity
                .login(Login {
                    email: demo.email.to_owned(),
                    password: demo.password.to_owned(),
                })
                .await
                .expect(demo.email);
            let me = identity.me(&demo.principal()).await.expect("me");
            assert_eq!((me.email.as_str(), me.role), (demo.email, demo.role));
        }
    }
}
