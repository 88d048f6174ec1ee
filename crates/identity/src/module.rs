//! Start-up of identity in a process: open and migrate its store, build the service, make
//! sure a signing key exists; the sweeper that deletes expired refresh tokens.

use std::sync::Arc;
use std::time::Duration;

use innkeeper_kernel::Clock;
use innkeeper_platform::db::Database;
use tokio_util::sync::CancellationToken;

use crate::app::{IdentityService, IdentitySettings};
use crate::store::IdentityStore;

/// The store for a database, migrated to the current schema.
pub async fn open_store(db: &Database) -> anyhow::Result<Arc<dyn IdentityStore>> {
    let store: Arc<dyn IdentityStore> = match db {
        Database::Sqlite(sqlite) => crate::store::sqlite_store(sqlite.clone()),
        Database::Postgres(pool) => crate::store::postgres_store(pool.clone()),
    };
    store.migrate().await?;
    Ok(store)
}

/// A running identity service: what other modules call in-process.
#[derive(Debug, Clone)]
pub struct IdentityModule {
    /// The in-process implementation of the contract (and the CLI's administration).
    pub service: Arc<IdentityService>,
}

impl IdentityModule {
    /// Opens the store on `db`, builds the service and prepares it (a signing key exists,
    /// the login decoy hash is computed).
    pub async fn start(
        db: &Database,
        clock: Arc<dyn Clock>,
        settings: IdentitySettings,
    ) -> anyhow::Result<Self> {
        let store = open_store(db).await?;
        let service = Arc::new(IdentityService::new(store, clock, settings));
        service.prepare().await?;
        Ok(Self { service })
    }
}

impl IdentityModule {
    /// Deletes expired refresh tokens every `interval` until `shutdown`. Several replicas may
    /// run it: each deletes what it finds, none twice.
    pub async fn run_token_sweeper(
        self,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        const BATCH: u32 = 1000;
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            loop {
                match self.service.prune_expired_refresh_tokens(BATCH).await {
                    Ok(n) if n < BATCH => {
                        if n > 0 {
                            tracing::info!(deleted = n, "expired refresh tokens deleted");
                        }
                        break;
                    }
                    Ok(n) => tracing::info!(deleted = n, "expired refresh tokens deleted"),
                    Err(err) => {
                        tracing::warn!(error = %err, "refresh token sweep failed; retrying next tick");
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use innkeeper_kernel::SystemClock;
    use innkeeper_platform::testing::TestDatabase;

    use super::IdentityModule;
    use crate::IdentitySettings;
    use crate::api::IdentityApi as _;

    /// Two starts on one database (a restart, or two replicas) share one signing key.
    async fn restarts_keep_the_signing_key(database: TestDatabase) {
        let start = || {
            IdentityModule::start(
                &database.db,
                Arc::new(SystemClock),
                IdentitySettings::default(),
            )
        };
        let first = start().await.expect("first start");
        let jwks = first.service.jwks().await.expect("jwks");
        assert_eq!(jwks.keys.len(), 1);
        let second = start().await.expect("second start");
        assert_eq!(second.service.jwks().await.expect("jwks"), jwks);
    }

    #[tokio::test]
    async fn sqlite_restarts_keep_the_signing_key() {
        restarts_keep_the_signing_key(TestDatabase::sqlite().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_restarts_keep_the_signing_key() {
        if let Some(database) = TestDatabase::postgres().await {
            restarts_keep_the_signing_key(database).await;
        }
    }
}
