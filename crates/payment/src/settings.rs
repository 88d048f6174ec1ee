//! Configuration: the `[payment]` section with its commented defaults, and the validated
//! settings the module runs with.

use std::time::Duration;

use innkeeper_payment_provider::webhook_signature::WebhookSecret;
use innkeeper_platform::resilience::ResilienceConfig;
use serde::{Deserialize, Serialize};

/// The section's defaults, commented, in the form `config/defaults.toml` takes them.
pub const DEFAULTS: &str = r#"[payment]
# The payment service's own database. Empty: an SQLite file payment.db in node.data_dir. Or
# postgres://user@host/db.
database_url = ""
max_connections = 8
# The payment service's gRPC address, for a node where it does not run (the booking service
# opens bookings' payments there, the gateway shows them), e.g. "http://127.0.0.1:50051".
# Empty: such a node has no payment service (bookings are made without a payment, and
# GET /api/v1/payments/{id} answers 503). Its events reach bookings over Kafka only
# (events.transport = "kafka"): the in-process bus does not cross processes.
endpoint = ""
# The payment provider's API base URL (its `/v1/...` routes hang below it), when it runs in
# another process. A node that runs the provider imitation (target payment-provider) too calls
# its own, mounted under /provider at the node's listen address, and sends the provider's
# webhooks to its own /api/v1/payments/webhook (as a local catalog ignores catalog.endpoint).
provider_url = "http://127.0.0.1:8080/provider"
# The secret API key sent as `Authorization: Bearer <key>`. Change it outside a demo.
provider_api_key = "sk_test_innkeeper_development_only"
# The provider's webhook signing secrets (`whsec_` + base64); a message signed with any of
# them is accepted, so a rotation can overlap. Change them outside a demo.
webhook_secrets = ["whsec_aW5ua2VlcGVyLWRldmVsb3BtZW50LW9ubHktc2VjcmV0"]
# How far a webhook's timestamp may be from our clock, either way (Standard Webhooks: 5 min).
webhook_tolerance_seconds = 300
# How long webhook ids are remembered to refuse a second effect. Keep it longer than the
# provider retries a delivery (its webhook_max_age_seconds, a day by default).
webhook_receipt_retention_seconds = 604800
# How often the worker looks for refunds and cancellations to send when nothing woke it.
worker_poll_interval_ms = 500
# A refund or cancellation the provider did not take is tried again after about `base`,
# then twice as long each time, never more than `max`.
task_backoff_base_ms = 1000
task_backoff_max_ms = 300000
# A payment no booking event has named this long after it was opened belongs to a booking (or a
# change of one) that was never recorded: the worker cancels it at the provider, and money
# that still comes for it is refunded. Must be longer than booking.hold_ttl_seconds (checked
# when both are in one configuration).
orphan_intent_after_seconds = 1800

# Calls to a remote payment service (payment.endpoint), as [catalog.calls] says for the catalog.
# Opening a payment calls the provider in turn (within provider_calls.deadline_ms), so allow
# each attempt as much.
[payment.calls]
attempt_timeout_ms = 8000
deadline_ms = 8000

# Calls to the provider: deadlines, retries (only with an Idempotency-Key, which every POST
# carries), the retry budget and the circuit breaker.
[payment.provider_calls]
# Deadline of one attempt, and of the whole call with its retries.
attempt_timeout_ms = 3000
deadline_ms = 8000
# Attempts of one call (1 = no retries).
max_attempts = 3
# Backoff before a retry: about `base` (half of it random), doubling, at most `max`.
backoff_base_ms = 100
backoff_max_ms = 2000
# Retries allowed: this percentage of the calls over the window, plus a floor per second.
retry_budget_percent = 20
retry_budget_min_per_second = 5
retry_budget_window_seconds = 10

[payment.provider_calls.breaker]
# Open after this many failures in a row...
consecutive_failures = 5
# ...or when this share of at least `minimum_calls` calls in the window failed.
failure_rate = 0.5
minimum_calls = 20
window_seconds = 30
# Stay open (failing fast) this long, then let `half_open_probes` calls test the provider.
open_ms = 5000
half_open_probes = 1
"#;

/// `[payment]` as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentConfig {
    pub database_url: String,
    pub max_connections: u32,
    /// The gRPC address of the payment service where it runs in another process (empty:
    /// none); read by the node, not by the service.
    pub endpoint: String,
    pub provider_url: String,
    pub provider_api_key: String,
    pub webhook_secrets: Vec<String>,
    pub webhook_tolerance_seconds: u64,
    pub webhook_receipt_retention_seconds: u64,
    pub worker_poll_interval_ms: u64,
    pub task_backoff_base_ms: u64,
    pub task_backoff_max_ms: u64,
    pub orphan_intent_after_seconds: u64,
    /// How other processes call the payment service over gRPC; read by the node.
    pub calls: ResilienceConfig,
    #[serde(default)]
    pub provider_calls: ResilienceConfig,
}

/// The validated settings the service runs with.
#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// The provider's API base URL, without a trailing slash.
    pub provider_url: String,
    pub provider_api_key: String,
    /// Every accepted webhook signing secret.
    pub webhook_secrets: Vec<WebhookSecret>,
    pub webhook_tolerance: time::Duration,
    pub webhook_receipt_retention: time::Duration,
    pub worker_poll_interval: Duration,
    pub task_backoff_base: Duration,
    pub task_backoff_max: Duration,
    /// How old a payment no booking event named is when the worker cancels it.
    pub orphan_intent_after: time::Duration,
    /// How provider calls are made.
    pub provider_calls: ResilienceConfig,
}

impl PaymentConfig {
    /// The defaults above, parsed.
    pub fn defaults() -> anyhow::Result<Self> {
        #[derive(Deserialize)]
        struct Root {
            payment: PaymentConfig,
        }
        innkeeper_platform::config::load::<Root>(DEFAULTS, None, &[]).map(|r| r.payment)
    }

    /// Checks every key; the error lists each problem with its key (`payment.*`).
    pub fn settings(&self) -> Result<PaymentSettings, Vec<String>> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: &str| {
            problems.push(format!("payment.{key}: {message}"));
        };
        if self.max_connections == 0 {
            problem("max_connections", "must be at least 1");
        }
        let endpoint = self.endpoint.trim();
        if !(endpoint.is_empty()
            || endpoint.starts_with("http://")
            || endpoint.starts_with("https://"))
        {
            problem("endpoint", "must be empty or an http:// or https:// URL");
        }
        let provider_url = self.provider_url.trim().trim_end_matches('/').to_owned();
        if reqwest::Url::parse(&provider_url)
            .map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
        {
            problem("provider_url", "must be an http(s) URL");
        }
        if !self.provider_api_key.starts_with("sk_") || self.provider_api_key.len() < 16 {
            problem(
                "provider_api_key",
                "must start with sk_ and have at least 16 characters",
            );
        }
        let secrets: Vec<WebhookSecret> = self
            .webhook_secrets
            .iter()
            .filter_map(|s| WebhookSecret::parse(s).ok())
            .collect();
        if secrets.len() != self.webhook_secrets.len() {
            problem(
                "webhook_secrets",
                "every secret must be whsec_ followed by at least 16 base64-encoded bytes",
            );
        }
        if secrets.is_empty() {
            problem("webhook_secrets", "needs at least one secret");
        }
        for (key, value) in [
            ("webhook_tolerance_seconds", self.webhook_tolerance_seconds),
            (
                "webhook_receipt_retention_seconds",
                self.webhook_receipt_retention_seconds,
            ),
            ("worker_poll_interval_ms", self.worker_poll_interval_ms),
            ("task_backoff_base_ms", self.task_backoff_base_ms),
            (
                "orphan_intent_after_seconds",
                self.orphan_intent_after_seconds,
            ),
        ] {
            if value == 0 {
                problem(key, "must be positive");
            }
        }
        if self.webhook_receipt_retention_seconds < self.webhook_tolerance_seconds {
            problem(
                "webhook_receipt_retention_seconds",
                "must be at least webhook_tolerance_seconds",
            );
        }
        if self.task_backoff_max_ms < self.task_backoff_base_ms {
            problem(
                "task_backoff_max_ms",
                "must be at least task_backoff_base_ms",
            );
        }
        problems.extend(self.calls.problems("payment.calls"));
        problems.extend(self.provider_calls.problems("payment.provider_calls"));
        if !problems.is_empty() {
            return Err(problems);
        }
        let seconds = |s: u64| time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
        Ok(PaymentSettings {
            provider_url,
            provider_api_key: self.provider_api_key.clone(),
            webhook_secrets: secrets,
            webhook_tolerance: seconds(self.webhook_tolerance_seconds),
            webhook_receipt_retention: seconds(self.webhook_receipt_retention_seconds),
            worker_poll_interval: Duration::from_millis(self.worker_poll_interval_ms),
            task_backoff_base: Duration::from_millis(self.task_backoff_base_ms),
            task_backoff_max: Duration::from_millis(self.task_backoff_max_ms),
            orphan_intent_after: seconds(self.orphan_intent_after_seconds),
            provider_calls: self.provider_calls.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_parse_and_validate() {
        let config = PaymentConfig::defaults().expect("defaults parse");
        let settings = config.settings().expect("defaults are valid");
        assert_eq!(settings.webhook_secrets.len(), 1);
        assert_eq!(settings.webhook_tolerance, time::Duration::minutes(5));
        assert_eq!(settings.provider_url, "http://127.0.0.1:8080/provider");
        assert_eq!(settings.provider_calls.breaker.open_ms, 5000);
        assert_eq!(settings.orphan_intent_after, time::Duration::minutes(30));
    }

    #[test]
    fn the_default_secret_is_the_providers() {
        let ours = PaymentConfig::defaults().expect("parse").webhook_secrets;
        let theirs = innkeeper_payment_provider::PaymentProviderConfig::defaults()
            .expect("parse")
            .webhook_secrets;
        assert_eq!(ours, theirs, "a demo works out of the box");
    }

    #[test]
    fn problems_name_their_keys() {
        let mut config = PaymentConfig::defaults().expect("defaults parse");
        config.provider_api_key = "pk_test".into();
        config.webhook_secrets = vec!["whsec_short".into()];
        config.provider_url = "ftp://example.test".into();
        config.provider_calls.max_attempts = 0;
        config.calls.deadline_ms = 1;
        config.orphan_intent_after_seconds = 0;
        let problems = config.settings().expect_err("invalid");
        for key in [
            "payment.provider_api_key",
            "payment.webhook_secrets",
            "payment.provider_url",
            "payment.provider_calls.max_attempts",
            "payment.calls.deadline_ms",
            "payment.orphan_intent_after_seconds",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(key)),
                "{key}: {problems:?}"
            );
        }
    }
}
