//! Start-up of the provider in a process: open and migrate its store, build the service, and
//! hand out its router and its webhook worker.
//!
//! Wiring in a node is a few lines:
//! ```text
//! let provider = PaymentProviderModule::start(&db, clock, config.settings()?).await?;
//! router = router.merge(provider.router());
//! supervisor.spawn("payment_provider.webhooks", provider.clone().run_webhook_worker(shutdown));
//! ```

use std::sync::Arc;

use axum::Router;
use innkeeper_kernel::Clock;
use innkeeper_platform::db::Database;
use tokio_util::sync::CancellationToken;

use crate::app::ProviderService;
use crate::faults::FaultSwitch;
use crate::http::{self, AppState};
use crate::settings::ProviderSettings;
use crate::webhooks::WebhookWorker;

/// A running provider.
#[derive(Debug, Clone)]
pub struct PaymentProviderModule {
    /// The use cases (tests and the CLI reach them directly).
    pub service: Arc<ProviderService>,
    /// The faults in force, shared with the admin endpoint.
    pub faults: FaultSwitch,
}

impl PaymentProviderModule {
    /// Opens and migrates the store on `db` and builds the provider.
    pub async fn start(
        db: &Database,
        clock: Arc<dyn Clock>,
        settings: ProviderSettings,
    ) -> anyhow::Result<Self> {
        let store = crate::store::open(db).await?;
        let faults = FaultSwitch::new(settings.faults);
        let service = Arc::new(ProviderService::new(store, clock, settings));
        Ok(Self { service, faults })
    }

    /// Every route: the API (`/v1`), the checkout page (`/checkout`) and `/_admin`.
    pub fn router(&self) -> Router {
        http::router(AppState {
            service: self.service.clone(),
            faults: self.faults.clone(),
        })
    }

    /// Delivers webhooks (and settles delayed payments) until `shutdown`. Several replicas may
    /// run it: deliveries are leased, so each attempt is made by one of them.
    pub async fn run_webhook_worker(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        WebhookWorker::new(self.service)?.run(shutdown).await
    }
}
