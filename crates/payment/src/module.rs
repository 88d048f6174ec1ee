//! Start-up of the payment service in a process: open and migrate its store, build the
//! provider client (with its resilience layer) and the service, and hand out the booking
//! consumer, the webhook route and the worker.
//!
//! Wiring in a node:
//! ```text
//! let payment = PaymentModule::start(&db, clock, config.settings()?).await?;
//! router = router.merge(payment.webhook_router());            // POST /api/v1/payments/webhook
//! bus.subscribe(payment.booking_outcomes.clone(), &db, ...);  // topic booking.events
//! supervisor.spawn("payment.worker", payment.clone().run_worker(shutdown));
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use innkeeper_kernel::{Clock, Error};
use innkeeper_platform::db::Database;
use innkeeper_platform::resilience::Downstream;
use tokio_util::sync::CancellationToken;

use crate::api::{PaymentApi, PaymentClient, WebhookOutcome};
use crate::app::PaymentService;
use crate::app::consumers::BookingOutcomes;
use crate::provider::{DOWNSTREAM, ProviderClient};
use crate::settings::PaymentSettings;
use crate::store::PaymentStore;

/// Where the provider delivers webhooks (the path of its default `webhook_url`).
pub const WEBHOOK_PATH: &str = "/api/v1/payments/webhook";

/// The largest webhook body accepted.
const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// A running payment service.
#[derive(Debug, Clone)]
pub struct PaymentModule {
    /// The in-process implementation of the contract.
    pub service: Arc<PaymentService>,
    /// Cancels or refunds the payments of bookings that ended (topic `booking.events`).
    pub booking_outcomes: Arc<BookingOutcomes>,
}

impl PaymentModule {
    /// Opens and migrates the store on `db` (the event tables included) and builds the
    /// service over the provider.
    pub async fn start(
        db: &Database,
        clock: Arc<dyn Clock>,
        settings: PaymentSettings,
    ) -> anyhow::Result<Self> {
        let store = PaymentStore::new(db.clone());
        store.migrate().await?;
        let downstream = Downstream::new(DOWNSTREAM, settings.provider_calls.clone());
        let provider = ProviderClient::new(
            &settings.provider_url,
            &settings.provider_api_key,
            downstream,
        )?;
        let service = Arc::new(PaymentService::new(store, provider, clock, settings));
        let booking_outcomes = Arc::new(BookingOutcomes::new(service.clone()));
        Ok(Self {
            service,
            booking_outcomes,
        })
    }

    /// A client calling the service in-process.
    pub fn client(&self) -> PaymentClient {
        PaymentClient::new(self.service.clone())
    }

    /// `POST /api/v1/payments/webhook`: 204 for a message applied, a duplicate or one about
    /// nothing of ours; 401 problem+json for a bad signature or timestamp; 400 for a signed
    /// body that is not an event; 503 when the database is busy (the provider retries).
    pub fn webhook_router(&self) -> Router {
        Router::new()
            .route(WEBHOOK_PATH, post(webhook))
            .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
            .with_state(self.service.clone())
    }

    /// Sends owed refunds and cancellations to the provider until `shutdown`.
    pub async fn run_worker(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        crate::app::worker::run(self.service, shutdown).await
    }
}

async fn webhook(
    State(service): State<Arc<PaymentService>>,
    headers: http::HeaderMap,
    body: Bytes,
) -> Response {
    match service.handle_webhook(&headers, &body).await {
        Ok(outcome) => {
            let mut response = http::StatusCode::NO_CONTENT.into_response();
            let label = match outcome {
                WebhookOutcome::Applied => "applied",
                WebhookOutcome::Duplicate => "duplicate",
                WebhookOutcome::Ignored => "ignored",
            };
            response.headers_mut().insert(
                "innkeeper-webhook-outcome",
                http::HeaderValue::from_static(label),
            );
            response
        }
        Err(err) => problem(&err),
    }
}

/// An error as `application/problem+json` (RFC 9457), as the gateway writes them.
fn problem(err: &Error) -> Response {
    let status = http::StatusCode::from_u16(err.code.http_status())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({
        "type": format!("https://innkeeper.dev/problems/{}", err.code.as_str()),
        "title": err.code.title(),
        "status": status.as_u16(),
        "detail": err.message,
        "code": err.code.as_str(),
        "instance": WEBHOOK_PATH,
    });
    let mut response = (
        status,
        [(http::header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if err.code == innkeeper_kernel::ErrorCode::Unavailable {
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
    }
    response
}
