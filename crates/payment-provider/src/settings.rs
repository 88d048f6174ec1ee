//! Configuration: the `[payment_provider]` section with its commented defaults, and the
//! validated settings the module runs with.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::Faults;
use crate::webhook_signature::WebhookSecret;

/// The section's defaults, commented, in the form `config/defaults.toml` takes them.
pub const DEFAULTS: &str = r#"[payment_provider]
# The provider's own database (an imitation of an external system: never shared with payment).
# Empty: an SQLite file payment-provider.db in node.data_dir. Or postgres://user@host/db.
database_url = ""
max_connections = 8
# The provider's base URL as callers and the payer's browser reach it: checkout links are
# `<public_url>/checkout/<intent id>`. In one process the node mounts it under /provider.
public_url = "http://127.0.0.1:8080/provider"
# Secret API keys callers present as `Authorization: Bearer <key>`. Several keys let a
# rotation overlap. Change them outside a demo.
api_keys = ["sk_test_innkeeper_development_only"]
# Where events are delivered (the payment service's webhook). Empty: events are queued and kept,
# not sent, until an endpoint is configured.
webhook_url = "http://127.0.0.1:8080/api/v1/payments/webhook"
# Signing secrets (`whsec_` + base64), all active: every delivery carries one signature per
# secret, so a receiver can move from one to the next. Change them outside a demo.
webhook_secrets = ["whsec_aW5ua2VlcGVyLWRldmVsb3BtZW50LW9ubHktc2VjcmV0"]
# Deadline of one delivery attempt.
webhook_timeout_ms = 5000
# Retry backoff: the first retry waits about `base`, each next one twice as long (half of it
# random jitter), never more than `max`.
webhook_backoff_base_ms = 1000
webhook_backoff_max_ms = 300000
# A delivery still failing after this long is given up (marked `failed`).
webhook_max_age_seconds = 86400
# How often the worker looks for due deliveries when nothing new woke it.
webhook_poll_interval_ms = 500
# Deliveries attempted at once by one worker.
webhook_batch_size = 16
# How long the delayed-success test card stays `processing`.
processing_delay_ms = 3000
# How long an idempotency key and its answer are kept.
idempotency_retention_seconds = 86400

# Failure injection at start (also settable at run time: POST /_admin/faults).
[payment_provider.faults]
# Added to every request.
latency_ms = 0
# Share of requests answered 500 before they run (0.0 to 1.0).
error_rate = 0.0
# Share of requests that run but whose answer is lost: replaced by a 500 (0.0 to 1.0), as when
# a connection drops after the processor acted. Retries with the same Idempotency-Key must not
# pay or refund twice.
lost_response_rate = 0.0
# Refuse everything with 503 and close the connection.
down = false
"#;

/// `[payment_provider]` as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentProviderConfig {
    pub database_url: String,
    pub max_connections: u32,
    pub public_url: String,
    pub api_keys: Vec<String>,
    pub webhook_url: String,
    pub webhook_secrets: Vec<String>,
    pub webhook_timeout_ms: u64,
    pub webhook_backoff_base_ms: u64,
    pub webhook_backoff_max_ms: u64,
    pub webhook_max_age_seconds: u64,
    pub webhook_poll_interval_ms: u64,
    pub webhook_batch_size: u32,
    pub processing_delay_ms: u64,
    pub idempotency_retention_seconds: u64,
    pub faults: Faults,
}

/// Where events go and how they are signed.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The receiver; `None`: events are queued but not sent.
    pub url: Option<reqwest::Url>,
    /// Every active signing secret.
    pub secrets: Vec<WebhookSecret>,
    /// Deadline of one attempt.
    pub timeout: Duration,
    /// First retry delay.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Age at which a delivery is given up.
    pub max_age: Duration,
    /// Idle poll period of the worker.
    pub poll_interval: Duration,
    /// Deliveries attempted at once.
    pub batch_size: u32,
}

/// The validated settings the provider runs with.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Base URL of checkout links, without a trailing slash.
    pub public_url: String,
    /// Accepted secret API keys.
    pub api_keys: Vec<String>,
    pub webhooks: WebhookSettings,
    /// How long the delayed-success card stays `processing`.
    pub processing_delay: Duration,
    /// How long idempotency keys are kept.
    pub idempotency_retention: Duration,
    /// Failure injection at start.
    pub faults: Faults,
}

impl PaymentProviderConfig {
    /// The defaults above, parsed.
    pub fn defaults() -> anyhow::Result<Self> {
        #[derive(Deserialize)]
        struct Root {
            payment_provider: PaymentProviderConfig,
        }
        innkeeper_platform::config::load::<Root>(DEFAULTS, None, &[]).map(|r| r.payment_provider)
    }

    /// Checks every key; the error lists each problem with its key (`payment_provider.*`).
    pub fn settings(&self) -> Result<ProviderSettings, Vec<String>> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: &str| {
            problems.push(format!("payment_provider.{key}: {message}"));
        };
        if self.max_connections == 0 {
            problem("max_connections", "must be at least 1");
        }
        let public_url = self.public_url.trim_end_matches('/').to_owned();
        if reqwest::Url::parse(&public_url)
            .map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
        {
            problem("public_url", "must be an http(s) URL");
        }
        if self.api_keys.is_empty() {
            problem("api_keys", "needs at least one key");
        }
        if self
            .api_keys
            .iter()
            .any(|k| !k.starts_with("sk_") || k.len() < 16)
        {
            problem(
                "api_keys",
                "every key must start with sk_ and have at least 16 characters",
            );
        }
        let url = if self.webhook_url.trim().is_empty() {
            None
        } else {
            match reqwest::Url::parse(self.webhook_url.trim()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
                _ => {
                    problem("webhook_url", "must be an http(s) URL or empty");
                    None
                }
            }
        };
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
            ("webhook_timeout_ms", self.webhook_timeout_ms),
            ("webhook_backoff_base_ms", self.webhook_backoff_base_ms),
            ("webhook_poll_interval_ms", self.webhook_poll_interval_ms),
            ("webhook_max_age_seconds", self.webhook_max_age_seconds),
            (
                "idempotency_retention_seconds",
                self.idempotency_retention_seconds,
            ),
        ] {
            if value == 0 {
                problem(key, "must be positive");
            }
        }
        if self.webhook_backoff_max_ms < self.webhook_backoff_base_ms {
            problem(
                "webhook_backoff_max_ms",
                "must be at least webhook_backoff_base_ms",
            );
        }
        if self.webhook_batch_size == 0 {
            problem("webhook_batch_size", "must be at least 1");
        }
        if let Err(message) = self.faults.check() {
            problem(&format!("faults.{}", message.0), message.1);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ProviderSettings {
            public_url,
            api_keys: self.api_keys.clone(),
            webhooks: WebhookSettings {
                url,
                secrets,
                timeout: Duration::from_millis(self.webhook_timeout_ms),
                backoff_base: Duration::from_millis(self.webhook_backoff_base_ms),
                backoff_max: Duration::from_millis(self.webhook_backoff_max_ms),
                max_age: Duration::from_secs(self.webhook_max_age_seconds),
                poll_interval: Duration::from_millis(self.webhook_poll_interval_ms),
                batch_size: self.webhook_batch_size,
            },
            processing_delay: Duration::from_millis(self.processing_delay_ms),
            idempotency_retention: Duration::from_secs(self.idempotency_retention_seconds),
            faults: self.faults,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_parse_and_validate() {
        let config = PaymentProviderConfig::defaults().expect("defaults parse");
        let settings = config.settings().expect("defaults are valid");
        assert_eq!(settings.webhooks.secrets.len(), 1);
        assert_eq!(settings.public_url, "http://127.0.0.1:8080/provider");
        assert_eq!(settings.faults, Faults::default());
    }

    #[test]
    fn problems_name_their_keys() {
        let mut config = PaymentProviderConfig::defaults().expect("defaults parse");
        config.api_keys = vec!["pk_test".into()];
        config.webhook_secrets = vec!["whsec_short".into()];
        config.webhook_url = "ftp://example.test".into();
        config.faults.error_rate = 1.5;
        let problems = config.settings().expect_err("invalid");
        for key in [
            "payment_provider.api_keys",
            "payment_provider.webhook_secrets",
            "payment_provider.webhook_url",
            "payment_provider.faults.error_rate",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(key)),
                "{key}: {problems:?}"
            );
        }
    }

    #[test]
    fn an_empty_webhook_url_means_no_deliveries() {
        let mut config = PaymentProviderConfig::defaults().expect("defaults parse");
        config.webhook_url = String::new();
        assert!(config.settings().expect("valid").webhooks.url.is_none());
    }
}
