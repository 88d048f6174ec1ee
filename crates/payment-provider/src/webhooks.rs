//! The webhook delivery worker: sends due deliveries to the configured endpoint, signed, and
//! retries the ones the receiver did not take.
//!
//! Each round it settles delayed payments, leases a batch of due deliveries (a worker that
//! dies mid-attempt lets them come back when the lease ends), and attempts them concurrently,
//! each with its own deadline. A 2xx answer delivers; anything else (another status, a
//! connection error, the deadline) schedules the next attempt after an exponentially growing,
//! jittered delay, until the delivery is older than the maximum age and is marked `failed`.
//! Every attempt is logged with its outcome. Signatures are computed per attempt (the
//! timestamp is the attempt's), with every active secret.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::ProviderService;
use crate::domain::retry_delay;
use crate::store::{AttemptRecord, AttemptResult, Delivery};
use crate::webhook_signature::{self, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// How often idempotency keys past their retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Sends webhooks until `shutdown`.
#[derive(Debug, Clone)]
pub struct WebhookWorker {
    service: Arc<ProviderService>,
    client: reqwest::Client,
}

impl WebhookWorker {
    /// A worker for `service`'s deliveries.
    pub fn new(service: Arc<ProviderService>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent("innkeeper-payment-provider")
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { service, client })
    }

    /// Runs rounds until `shutdown`; an attempt in flight at shutdown finishes first.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let settings = self.service.settings().webhooks.clone();
        if settings.url.is_none() {
            tracing::warn!("payment_provider.webhook_url is empty: events are queued, not sent");
        }
        let mut last_prune = Instant::now();
        loop {
            let worked = match self.round().await {
                Ok(n) => n,
                Err(err) => {
                    tracing::warn!(error = %err.message, "webhook round failed; retrying");
                    0
                }
            };
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = Instant::now();
                if let Err(err) = self.service.prune_keys().await {
                    tracing::warn!(error = %err.message, "pruning idempotency keys failed");
                }
            }
            if worked >= settings.batch_size {
                // A full batch: more may be due at once.
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = self.service.deliveries_queued.notified() => {}
                () = tokio::time::sleep(settings.poll_interval) => {}
            }
        }
    }

    /// One round: settle due payments, then attempt due deliveries. Returns how many
    /// deliveries were attempted.
    pub async fn round(&self) -> Result<u32, crate::error::ProviderError> {
        let settings = &self.service.settings().webhooks;
        self.service.settle_due(settings.batch_size).await?;
        let Some(url) = settings.url.clone() else {
            return Ok(0);
        };
        let now = self.service.clock().now();
        let lease = time::Duration::try_from(settings.timeout * 2 + Duration::from_secs(5))
            .unwrap_or(time::Duration::minutes(1));
        let due = self
            .service
            .store()
            .claim_deliveries(now, now + lease, settings.batch_size)
            .await?;
        let attempted = u32::try_from(due.len()).unwrap_or(u32::MAX);
        let mut attempts = JoinSet::new();
        for delivery in due {
            let worker = self.clone();
            let url = url.clone();
            attempts.spawn(async move { worker.attempt(url, delivery).await });
        }
        while let Some(done) = attempts.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(error = %err.message, "recording a webhook attempt failed")
                }
                Err(err) => tracing::error!(error = %err, "webhook attempt task failed"),
            }
        }
        Ok(attempted)
    }

    async fn attempt(&self, url: reqwest::Url, delivery: Delivery) -> innkeeper_kernel::Result<()> {
        let settings = &self.service.settings().webhooks;
        let clock = self.service.clock();
        let started_at = clock.now();
        let timestamp = started_at.unix_timestamp();
        let signature = webhook_signature::sign(
            &settings.secrets,
            &delivery.event_id,
            timestamp,
            delivery.payload.as_bytes(),
        );
        let started = Instant::now();
        let sent = self
            .client
            .post(url)
            .timeout(settings.timeout)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(ID_HEADER, &delivery.event_id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        let (status_code, error) = match sent {
            Ok(response) if response.status().is_success() => {
                (Some(response.status().as_u16()), None)
            }
            Ok(response) => (
                Some(response.status().as_u16()),
                Some(format!("the receiver answered {}", response.status())),
            ),
            Err(err) if err.is_timeout() => (
                None,
                Some(format!("no answer within {:?}", settings.timeout)),
            ),
            Err(err) => (None, Some(format!("could not reach the receiver: {err}"))),
        };
        let attempt = delivery.attempts + 1;
        let now = clock.now();
        let age = now - delivery.created_at;
        let result = if error.is_none() {
            AttemptResult::Delivered
        } else if age >= settings.max_age {
            AttemptResult::GiveUp
        } else {
            let delay = retry_delay(
                attempt,
                settings.backoff_base,
                settings.backoff_max,
                rand::random::<f64>(),
            );
            AttemptResult::Retry(now + delay)
        };
        let outcome = match result {
            AttemptResult::Delivered => "delivered",
            AttemptResult::Retry(_) => "retry",
            AttemptResult::GiveUp => "given_up",
        };
        metrics::counter!("innkeeper_payment_provider_webhook_attempts_total", "outcome" => outcome)
            .increment(1);
        match (&result, &error) {
            (AttemptResult::Delivered, _) => {
                tracing::info!(event_id = %delivery.event_id, event_type = %delivery.event_type, attempt, "webhook delivered");
            }
            (AttemptResult::GiveUp, Some(error)) => {
                tracing::error!(event_id = %delivery.event_id, attempt, %error, "webhook given up");
            }
            (_, error) => {
                tracing::warn!(event_id = %delivery.event_id, attempt, error = ?error, "webhook attempt failed; will retry");
            }
        }
        let record = AttemptRecord {
            event_id: delivery.event_id,
            attempt,
            started_at,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            status_code,
            error,
        };
        self.service.store().finish_attempt(&record, result).await
    }
}

#[cfg(test)]
mod tests;
