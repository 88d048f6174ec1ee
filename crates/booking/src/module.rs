//! Start-up of the booking service in a process: open and migrate its store, build the
//! service and its payment consumer.

use std::sync::Arc;
use std::time::Duration;

use innkeeper_catalog::api::CatalogClient;
use innkeeper_kernel::Clock;
use innkeeper_payment::api::PaymentClient;
use innkeeper_platform::db::Database;
use tokio_util::sync::CancellationToken;

use crate::app::expiry::HoldExpiries;
use crate::app::payments::PaymentOutcomes;
use crate::app::releases::HoldReleases;
use crate::app::{BookingService, BookingSettings};
use crate::store::BookingStore;

/// The store for a database, migrated to the current schema (the event tables included).
pub(crate) async fn open_store(db: &Database) -> anyhow::Result<Arc<dyn BookingStore>> {
    let store: Arc<dyn BookingStore> = match db {
        Database::Sqlite(sqlite) => crate::store::sqlite_store(sqlite.clone()),
        Database::Postgres(pool) => crate::store::postgres_store(pool.clone()),
    };
    store.migrate().await?;
    Ok(store)
}

/// A running booking service: what other modules call in-process, and the consumer the
/// runtime subscribes (each under a Dispatcher on this module's database).
#[derive(Debug, Clone)]
pub struct BookingModule {
    /// The in-process implementation of the contract.
    pub service: Arc<BookingService>,
    /// Confirms, cancels or records refunds of bookings on `innkeeper.payment.*` (topic
    /// `payment.events`).
    pub payment_outcomes: Arc<PaymentOutcomes>,
    /// Expires unpaid bookings when the catalog expires their holds (topic `catalog.events`).
    pub hold_expiries: Arc<HoldExpiries>,
    /// Gives back the holds cancellations and modifications ended (topic `booking.events`).
    pub hold_releases: Arc<HoldReleases>,
}

impl BookingModule {
    /// Opens the store on `db` and builds the service over the catalog and the payment
    /// service. With `payments`, every new booking opens its payment (and answers its
    /// `payment.checkout_url`); a provider that is down fails the booking fast (503) with its
    /// hold given back. Without, bookings are made unpaid and wait for a `payment.succeeded`
    /// published elsewhere (a node that runs bookings without the payment target).
    pub async fn start(
        db: &Database,
        catalog: CatalogClient,
        payments: Option<PaymentClient>,
        clock: Arc<dyn Clock>,
        settings: BookingSettings,
    ) -> anyhow::Result<Self> {
        let store = open_store(db).await?;
        let service = Arc::new(BookingService::new(
            store,
            catalog.clone(),
            payments,
            clock.clone(),
            settings,
        ));
        let payment_outcomes = Arc::new(PaymentOutcomes::new(catalog.clone(), clock.clone()));
        let hold_releases = Arc::new(HoldReleases::new(catalog));
        let hold_expiries = Arc::new(HoldExpiries::new(clock));
        Ok(Self {
            service,
            payment_outcomes,
            hold_expiries,
            hold_releases,
        })
    }
}

impl BookingModule {
    /// Deletes idempotency keys past their retention every `interval` until `shutdown`.
    /// Several replicas may run it: each deletes what it finds.
    pub async fn run_key_reaper(
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
                match self.service.reap_idempotency_keys(BATCH).await {
                    Ok(n) if n < u64::from(BATCH) => break,
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "idempotency key reaping failed; retrying next tick");
                        break;
                    }
                }
            }
        }
    }
}
