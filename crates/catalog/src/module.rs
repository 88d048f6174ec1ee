//! Start-up of the catalog in a process: open and migrate its store, build the service, run
//! the hold sweeper.

use std::sync::Arc;
use std::time::Duration;

use innkeeper_kernel::Clock;
use innkeeper_platform::db::Database;
use tokio_util::sync::CancellationToken;

use crate::app::{CatalogService, CatalogSettings};
use crate::store::CatalogStore;

/// The store for a database, migrated to the current schema.
pub async fn open_store(db: &Database) -> anyhow::Result<Arc<dyn CatalogStore>> {
    let store: Arc<dyn CatalogStore> = match db {
        Database::Sqlite(sqlite) => crate::store::sqlite_store(sqlite.clone()),
        Database::Postgres(pool) => crate::store::postgres_store(pool.clone()),
    };
    store.migrate().await?;
    Ok(store)
}

/// A running catalog: the service other modules call in-process.
#[derive(Debug, Clone)]
pub struct CatalogModule {
    /// The in-process implementation of the contract.
    pub service: Arc<CatalogService>,
}

impl CatalogModule {
    /// Opens the store on `db`, builds the service and loads its search index.
    pub async fn start(
        db: &Database,
        clock: Arc<dyn Clock>,
        settings: CatalogSettings,
    ) -> anyhow::Result<Self> {
        let module = Self::open(db, clock, settings).await?;
        let service = module.service;
        let started = std::time::Instant::now();
        let room_types = service.load_search_index().await?;
        tracing::info!(
            room_types,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "search index loaded"
        );
        Ok(Self { service })
    }

    /// Opens the store on `db` and builds the service without loading the search index: for
    /// one-shot commands (seeding, migrations) that write much and never search. Searches read
    /// the store, and writes skip the index refresh.
    pub async fn open(
        db: &Database,
        clock: Arc<dyn Clock>,
        settings: CatalogSettings,
    ) -> anyhow::Result<Self> {
        let store = open_store(db).await?;
        let service = Arc::new(CatalogService::new(store, clock, settings));
        Ok(Self { service })
    }

    /// Reloads the search index every `interval` until `shutdown`, so writes made by other
    /// catalog replicas show up in this one's searches (its own writes show at once).
    pub async fn run_index_reloader(
        self,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            if let Err(err) = self.service.load_search_index().await {
                tracing::warn!(error = %err, "search index reload failed; keeping the previous one");
            }
        }
    }

    /// Expires overdue holds every `interval` until `shutdown`. Several replicas may run it:
    /// the store picks due holds without double-expiring.
    pub async fn run_hold_sweeper(
        self,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            // Drain in batches so a backlog after downtime clears quickly.
            loop {
                match self
                    .service
                    .expire_due_holds(500)
                    .await
                    .map(|holds| holds.len())
                {
                    Ok(0) => break,
                    Ok(n) => {
                        metrics::counter!("innkeeper_catalog_holds_expired_total")
                            .increment(n as u64);
                        tracing::info!(expired = n, "expired overdue holds");
                        if n < 500 {
                            break;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "hold sweep failed; retrying next tick");
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{CatalogApi, PlaceHold};
    use crate::testing::Indexed;

    /// An expired hold's room shows in searches right after the sweep, not at the next
    /// index reload.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expired_holds_show_in_searches_after_the_sweep() {
        let indexed = Indexed::new(1).await;
        let catalog = indexed.catalog();
        assert_eq!(indexed.rooms_left().await, 1);

        catalog
            .place_hold(PlaceHold {
                ttl_seconds: 60,
                ..indexed.hold()
            })
            .await
            .expect("hold the only room");
        assert_eq!(indexed.rooms_left().await, 0, "held");

        indexed.clock.advance(time::Duration::seconds(61));
        let expired = catalog.expire_due_holds(10).await.expect("sweep");
        assert_eq!(expired.len(), 1);
        assert_eq!(
            (
                expired[0].hotel_id,
                expired[0].room_type_id,
                expired[0].stay
            ),
            (indexed.hotel_id, indexed.room_type_id, indexed.stay)
        );
        assert_eq!(indexed.rooms_left().await, 1, "given back");
    }
}
