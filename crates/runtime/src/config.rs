//! The node's configuration: the typed form of `config/defaults.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use innkeeper_platform::resilience::ResilienceConfig;
use serde::{Deserialize, Serialize};

use crate::target::Target;

/// The defaults, compiled in.
pub const DEFAULTS: &str = include_str!("../../../config/defaults.toml");

/// The largest `auth.verified_token_cache_size` accepted (some 200 MB of entries).
const MAX_VERIFIED_TOKEN_CACHE_SIZE: u64 = 1_000_000;

/// Everything a node reads at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node: NodeConfig,
    pub telemetry: TelemetryConfig,
    pub catalog: CatalogConfig,
    pub identity: IdentityConfig,
    pub booking: BookingConfig,
    pub payment: innkeeper_payment::PaymentConfig,
    pub payment_provider: innkeeper_payment_provider::PaymentProviderConfig,
    pub auth: innkeeper_platform::auth::AuthSettings,
    pub events: EventsConfig,
    pub gateway: GatewayConfig,
}

/// `[node]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub targets: Vec<Target>,
    pub listen: SocketAddr,
    pub grpc_listen: String,
    pub data_dir: PathBuf,
    pub shutdown_grace_seconds: u64,
}

/// `[telemetry]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    pub log_format: innkeeper_platform::telemetry::LogFormat,
    pub log_filter: String,
    pub otlp_endpoint: String,
    pub service_name: String,
}

/// `[catalog]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    pub database_url: String,
    pub max_connections: u32,
    pub endpoint: String,
    pub max_nights: u32,
    pub max_hold_ttl_seconds: u32,
    pub hold_sweep_interval_ms: u64,
    pub search_horizon_days: u32,
    pub search_index_reload_seconds: u64,
    /// How other processes call the catalog over gRPC.
    pub calls: ResilienceConfig,
}

/// `[identity]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    pub database_url: String,
    pub max_connections: u32,
    pub endpoint: String,
    pub access_token_ttl_seconds: u64,
    pub refresh_token_ttl_seconds: u64,
    pub key_publish_leeway_seconds: u64,
    pub token_sweep_interval_seconds: u64,
    /// How other processes call identity over gRPC.
    pub calls: ResilienceConfig,
}

/// `[booking]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingConfig {
    pub database_url: String,
    pub max_connections: u32,
    pub endpoint: String,
    pub max_nights: u32,
    pub hold_ttl_seconds: u32,
    pub free_cancellation_days_before: u32,
    pub late_refund_percent: u8,
    pub idempotency_lease_seconds: u32,
    pub idempotency_retention_seconds: u32,
    pub key_reap_interval_seconds: u64,
    pub payment_return_url: String,
    /// How other processes call the booking service over gRPC.
    pub calls: ResilienceConfig,
}

/// The shortest idempotency key retention accepted: a day, as the API promises.
const MIN_IDEMPOTENCY_RETENTION_SECONDS: u32 = 24 * 3600;

impl BookingConfig {
    fn problems(&self, catalog: &CatalogConfig) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_connections == 0 {
            problems.push("booking.max_connections: must be at least 1".to_owned());
        }
        problems.extend(self.calls.problems("booking.calls"));
        if !(1..=catalog.max_nights).contains(&self.max_nights) {
            problems.push(format!(
                "booking.max_nights: must be between 1 and catalog.max_nights ({})",
                catalog.max_nights
            ));
        }
        if !(1..=catalog.max_hold_ttl_seconds).contains(&self.hold_ttl_seconds) {
            problems.push(format!(
                "booking.hold_ttl_seconds: must be between 1 and catalog.max_hold_ttl_seconds ({})",
                catalog.max_hold_ttl_seconds
            ));
        }
        if self.late_refund_percent > 100 {
            problems.push("booking.late_refund_percent: must be between 0 and 100".to_owned());
        }
        if self.idempotency_lease_seconds == 0 {
            problems.push("booking.idempotency_lease_seconds: must be positive".to_owned());
        }
        if self.idempotency_retention_seconds < MIN_IDEMPOTENCY_RETENTION_SECONDS {
            problems.push(format!(
                "booking.idempotency_retention_seconds: must be at least \
                 {MIN_IDEMPOTENCY_RETENTION_SECONDS} (a day)"
            ));
        }
        if self.key_reap_interval_seconds == 0 {
            problems.push("booking.key_reap_interval_seconds: must be positive".to_owned());
        }
        let url = self.payment_return_url.trim();
        let host = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .unwrap_or_default();
        if host.is_empty() || host.starts_with('/') || url.contains(char::is_whitespace) {
            problems.push(
                "booking.payment_return_url: must be an absolute http(s) URL ({id} and \
                 {reference} may stand for the booking's)"
                    .to_owned(),
            );
        }
        problems
    }
}

/// Where the event relays publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventTransport {
    /// The in-process bus (embedded shape).
    Bus,
    /// Kafka (distributed shape).
    Kafka,
}

/// `[events]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    pub transport: EventTransport,
    pub kafka_brokers: String,
    pub kafka_partitions: i32,
    pub kafka_message_timeout_ms: u64,
    pub kafka_fetch_wait_ms: u64,
    pub kafka_session_timeout_ms: u64,
    pub relay_batch_size: u32,
    pub poll_interval_ms: u64,
    pub retention_seconds: u64,
    pub max_attempts: u32,
    pub retry_backoff_ms: u64,
}

impl EventsConfig {
    /// The relay's settings.
    pub fn relay_settings(&self) -> innkeeper_events::RelaySettings {
        innkeeper_events::RelaySettings {
            batch_size: self.relay_batch_size,
            poll_interval: std::time::Duration::from_millis(self.poll_interval_ms),
            retention: std::time::Duration::from_secs(self.retention_seconds),
            ..innkeeper_events::RelaySettings::default()
        }
    }

    /// The settings of this node's consumers.
    pub fn consumer_settings(&self) -> innkeeper_events::ConsumerSettings {
        innkeeper_events::ConsumerSettings {
            max_attempts: self.max_attempts,
            backoff: std::time::Duration::from_millis(self.retry_backoff_ms),
            poll_interval: std::time::Duration::from_millis(self.poll_interval_ms),
            ..innkeeper_events::ConsumerSettings::default()
        }
    }

    /// How to reach Kafka.
    pub fn kafka_settings(&self) -> innkeeper_events::kafka::KafkaSettings {
        innkeeper_events::kafka::KafkaSettings {
            message_timeout: std::time::Duration::from_millis(self.kafka_message_timeout_ms),
            fetch_wait: std::time::Duration::from_millis(self.kafka_fetch_wait_ms),
            session_timeout: std::time::Duration::from_millis(self.kafka_session_timeout_ms),
            ..innkeeper_events::kafka::KafkaSettings::new(self.kafka_brokers.clone())
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.transport == EventTransport::Kafka && self.kafka_brokers.trim().is_empty() {
            problems.push("events.kafka_brokers: name at least one broker".to_owned());
        }
        if !(1..=10_000).contains(&self.kafka_partitions) {
            problems.push("events.kafka_partitions: must be between 1 and 10000".to_owned());
        }
        if self.kafka_message_timeout_ms < 100 {
            problems.push("events.kafka_message_timeout_ms: must be at least 100".to_owned());
        }
        if !(1_000..=300_000).contains(&self.kafka_session_timeout_ms) {
            problems.push(
                "events.kafka_session_timeout_ms: must be between 1000 and 300000".to_owned(),
            );
        }
        if !(1..=60_000).contains(&self.kafka_fetch_wait_ms) {
            problems.push("events.kafka_fetch_wait_ms: must be between 1 and 60000".to_owned());
        }
        if !(1..=10_000).contains(&self.relay_batch_size) {
            problems.push("events.relay_batch_size: must be between 1 and 10000".to_owned());
        }
        if !(1..=60_000).contains(&self.poll_interval_ms) {
            problems.push("events.poll_interval_ms: must be between 1 and 60000".to_owned());
        }
        if !(1..=100).contains(&self.max_attempts) {
            problems.push("events.max_attempts: must be between 1 and 100".to_owned());
        }
        problems
    }
}

/// `[gateway]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub max_body_bytes: usize,
    pub max_guests: u32,
    pub request_timeout_ms: u64,
    /// `[gateway.rate_limit]`.
    #[serde(default)]
    pub rate_limit: innkeeper_gateway::RateLimitSettings,
    /// Reverse proxies (CIDRs or addresses) whose forwarding header names the client.
    #[serde(default)]
    pub trusted_proxies: innkeeper_gateway::TrustedProxies,
    /// `x-forwarded-for` or `forwarded`: the header the trusted proxies write.
    #[serde(default)]
    pub client_ip_header: innkeeper_gateway::ClientIpHeader,
}

impl Config {
    /// Loads the layers (defaults, file, env, flags) and validates the result.
    pub fn load(
        file: Option<&Path>,
        overrides: &[(&str, serde_json::Value)],
    ) -> anyhow::Result<Config> {
        let config: Config =
            innkeeper_platform::config::load(DEFAULTS, file, overrides).map_err(|err| {
                // The one key renamed since configurations were first written.
                let message = err.to_string();
                if message.contains("unknown field") && message.contains("request_timeout_ms") {
                    anyhow::anyhow!(
                        "{message}\n  (catalog, identity, booking and payment.request_timeout_ms \
                         became [<service>.calls] attempt_timeout_ms and deadline_ms; see \
                         `innkeeper config print`)"
                    )
                } else {
                    err
                }
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot; every message names its key.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        // A payment no booking event named yet is an orphan only once its booking can no
        // longer be recorded: a keyed retry may record it while the hold lives.
        if self.payment.orphan_intent_after_seconds <= u64::from(self.booking.hold_ttl_seconds) {
            problems.push(format!(
                "payment.orphan_intent_after_seconds: must be longer than booking.hold_ttl_seconds \
                 ({}): a payment whose booking is still being recorded would be cancelled",
                self.booking.hold_ttl_seconds
            ));
        }
        if self.node.targets.is_empty() {
            problems.push("node.targets: name at least one target (or \"all\")".to_owned());
        }
        if !self.node.grpc_listen.is_empty() && self.node.grpc_listen.parse::<SocketAddr>().is_err()
        {
            problems.push(format!(
                "node.grpc_listen: {:?} is not an address like 127.0.0.1:50051",
                self.node.grpc_listen
            ));
        }
        for (key, url) in [
            ("catalog.database_url", &self.catalog.database_url),
            ("identity.database_url", &self.identity.database_url),
            ("booking.database_url", &self.booking.database_url),
            ("payment.database_url", &self.payment.database_url),
        ] {
            if !(url.is_empty()
                || url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                problems.push(format!(
                    "{key}: must be empty, sqlite:... or postgres://..."
                ));
            }
        }
        for (key, url) in [
            ("catalog.endpoint", &self.catalog.endpoint),
            ("identity.endpoint", &self.identity.endpoint),
            ("booking.endpoint", &self.booking.endpoint),
        ] {
            // An empty booking endpoint: a gateway without bookings.
            let optional = key == "booking.endpoint" && url.is_empty();
            if !(optional || url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!("{key}: must be an http:// or https:// URL"));
            }
        }
        if self.identity.max_connections == 0 {
            problems.push("identity.max_connections: must be at least 1".to_owned());
        }
        problems.extend(self.identity.calls.problems("identity.calls"));
        if !(60..=86_400).contains(&self.identity.access_token_ttl_seconds) {
            problems
                .push("identity.access_token_ttl_seconds: must be between 60 and 86400".to_owned());
        }
        if self.identity.refresh_token_ttl_seconds < self.identity.access_token_ttl_seconds {
            problems.push(
                "identity.refresh_token_ttl_seconds: must be at least the access token TTL"
                    .to_owned(),
            );
        }
        if self.identity.token_sweep_interval_seconds == 0 {
            problems.push("identity.token_sweep_interval_seconds: must be positive".to_owned());
        }
        if self.auth.issuer.trim().is_empty() || self.auth.audience.trim().is_empty() {
            problems.push("auth.issuer / auth.audience: must not be empty".to_owned());
        }
        if self.auth.jwks_max_age_seconds == 0 {
            problems.push("auth.jwks_max_age_seconds: must be positive".to_owned());
        }
        if self.auth.verified_token_cache_size > MAX_VERIFIED_TOKEN_CACHE_SIZE {
            problems.push(format!(
                "auth.verified_token_cache_size: must be at most {MAX_VERIFIED_TOKEN_CACHE_SIZE} \
                 (0 turns the cache off)"
            ));
        }
        if !(1..=365).contains(&self.catalog.max_nights) {
            problems.push("catalog.max_nights: must be between 1 and 365".to_owned());
        }
        if !(31..=1000).contains(&self.catalog.search_horizon_days) {
            problems.push("catalog.search_horizon_days: must be between 31 and 1000".to_owned());
        }
        if self.catalog.max_connections == 0 {
            problems.push("catalog.max_connections: must be at least 1".to_owned());
        }
        problems.extend(self.catalog.calls.problems("catalog.calls"));
        if self.gateway.request_timeout_ms == 0 {
            problems.push("gateway.request_timeout_ms: must be positive".to_owned());
        }
        problems.extend(self.gateway.rate_limit.problems("gateway.rate_limit."));
        problems.extend(self.events.problems());
        problems.extend(self.booking.problems(&self.catalog));
        if let Err(more) = self.payment_provider.settings() {
            problems.extend(more);
        }
        if let Err(more) = self.payment.settings() {
            problems.extend(more);
        }
        if self.catalog.hold_sweep_interval_ms < 10 {
            problems.push("catalog.hold_sweep_interval_ms: must be at least 10".to_owned());
        }
        if self.gateway.max_body_bytes < 1024 {
            problems.push("gateway.max_body_bytes: must be at least 1024".to_owned());
        }
        if !(1..=100).contains(&self.gateway.max_guests) {
            problems.push("gateway.max_guests: must be between 1 and 100".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "))
        }
    }

    /// The catalog's database URL: the configured one, or an SQLite file in the data dir.
    pub fn catalog_database_url(&self) -> String {
        self.database_url(&self.catalog.database_url, "catalog.db")
    }

    /// The identity database URL: the configured one, or an SQLite file in the data dir.
    pub fn identity_database_url(&self) -> String {
        self.database_url(&self.identity.database_url, "identity.db")
    }

    /// The booking database URL: the configured one, or an SQLite file in the data dir.
    pub fn booking_database_url(&self) -> String {
        self.database_url(&self.booking.database_url, "booking.db")
    }

    /// The payment service's database URL: the configured one, or an SQLite file in the data
    /// dir.
    pub fn payment_database_url(&self) -> String {
        self.database_url(&self.payment.database_url, "payment.db")
    }

    /// The payment provider imitation's database URL: the configured one, or an SQLite file
    /// in the data dir.
    pub fn payment_provider_database_url(&self) -> String {
        self.database_url(&self.payment_provider.database_url, "payment-provider.db")
    }

    /// The booking service's settings, from `[booking]`.
    pub fn booking_settings(&self) -> innkeeper_booking::BookingSettings {
        innkeeper_booking::BookingSettings {
            max_nights: self.booking.max_nights,
            hold_ttl_seconds: self.booking.hold_ttl_seconds,
            cancellation_policy: innkeeper_booking::api::CancellationPolicy {
                free_until_days_before: self.booking.free_cancellation_days_before,
                late_refund_percent: self.booking.late_refund_percent,
            },
            idempotency_lease_seconds: self.booking.idempotency_lease_seconds,
            idempotency_retention_seconds: self.booking.idempotency_retention_seconds,
            payment_return_url: self.booking.payment_return_url.clone(),
        }
    }

    fn database_url(&self, configured: &str, file: &str) -> String {
        if configured.is_empty() {
            format!("sqlite://{}", self.node.data_dir.join(file).display())
        } else {
            configured.to_owned()
        }
    }

    /// The identity service's settings: lifetimes from `[identity]`, issuer and audience from
    /// `[auth]` (one source for the issuer and every verifier).
    pub fn identity_settings(&self) -> innkeeper_identity::IdentitySettings {
        innkeeper_identity::IdentitySettings {
            issuer: self.auth.issuer.clone(),
            audience: self.auth.audience.clone(),
            access_token_ttl_seconds: self.identity.access_token_ttl_seconds,
            refresh_token_ttl_seconds: self.identity.refresh_token_ttl_seconds,
            key_publish_leeway_seconds: self.identity.key_publish_leeway_seconds,
            service_secret: innkeeper_identity::ServiceSecret(self.auth.service_secret.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_payment_providers_commented_defaults_are_the_ones_compiled_in() {
        // The provider's crate owns its section's text; the compiled-in defaults carry it
        // verbatim, so the two cannot drift apart.
        assert!(
            DEFAULTS.contains(innkeeper_payment_provider::DEFAULTS),
            "config/defaults.toml must contain innkeeper_payment_provider::DEFAULTS verbatim"
        );
        let config = Config::load(None, &[]).expect("defaults");
        assert!(config.payment_provider.settings().is_ok());
    }

    #[test]
    fn the_payment_services_commented_defaults_are_the_ones_compiled_in() {
        assert!(
            DEFAULTS.contains(innkeeper_payment::DEFAULTS),
            "config/defaults.toml must contain innkeeper_payment::DEFAULTS verbatim"
        );
        let config = Config::load(None, &[]).expect("defaults");
        assert!(config.payment.settings().is_ok());
        assert!(
            config
                .payment_database_url()
                .ends_with("innkeeper-data/payment.db")
        );
        assert_eq!(
            config.booking_settings().payment_return_url,
            innkeeper_booking::DEFAULT_PAYMENT_RETURN_URL
        );
        for (key, value) in [
            ("payment.provider_api_key", json!("pk_live")),
            ("payment.database_url", json!("mysql://x")),
            ("booking.payment_return_url", json!("/bookings/{id}")),
        ] {
            let err = Config::load(None, &[(key, value)]).expect_err("invalid");
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn the_compiled_defaults_are_valid() {
        let config = Config::load(None, &[]).expect("defaults load");
        assert_eq!(config.node.targets, vec![Target::All]);
        assert!(
            config
                .catalog_database_url()
                .ends_with("innkeeper-data/catalog.db")
        );
        assert!(
            config
                .booking_database_url()
                .ends_with("innkeeper-data/booking.db")
        );
        let defaults = innkeeper_booking::BookingSettings::default();
        let settings = config.booking_settings();
        assert_eq!(settings.hold_ttl_seconds, defaults.hold_ttl_seconds);
        assert_eq!(settings.cancellation_policy, defaults.cancellation_policy);
    }

    #[test]
    fn orphaned_payments_wait_longer_than_a_hold_lives() {
        let err = Config::load(
            None,
            &[
                ("booking.hold_ttl_seconds", serde_json::json!(900)),
                (
                    "payment.orphan_intent_after_seconds",
                    serde_json::json!(900),
                ),
            ],
        )
        .expect_err("invalid");
        assert!(
            err.to_string()
                .contains("payment.orphan_intent_after_seconds: must be longer than booking.hold_ttl_seconds (900)"),
            "{err}"
        );
        Config::load(
            None,
            &[(
                "payment.orphan_intent_after_seconds",
                serde_json::json!(901),
            )],
        )
        .expect("longer than the default hold TTL");
    }

    #[test]
    fn the_booking_hold_ttl_cannot_exceed_the_catalogs_maximum() {
        let err = Config::load(
            None,
            &[
                ("catalog.max_hold_ttl_seconds", serde_json::json!(600)),
                ("booking.hold_ttl_seconds", serde_json::json!(900)),
            ],
        )
        .expect_err("invalid");
        assert!(
            err.to_string().contains("booking.hold_ttl_seconds"),
            "{err}"
        );
        let err = Config::load(
            None,
            &[(
                "booking.idempotency_retention_seconds",
                serde_json::json!(60),
            )],
        )
        .expect_err("invalid");
        assert!(
            err.to_string()
                .contains("booking.idempotency_retention_seconds"),
            "{err}"
        );
    }

    #[test]
    fn the_booking_endpoint_and_deadline_are_checked() {
        let config = Config::load(None, &[]).expect("defaults load");
        assert_eq!(config.booking.endpoint, "http://127.0.0.1:50051");
        // A booking's call makes catalog calls of its own: it may take as long as they do.
        assert!(config.booking.calls.deadline_ms >= config.catalog.calls.deadline_ms);
        let searching_only = Config::load(None, &[("booking.endpoint", serde_json::json!(""))]);
        assert!(
            searching_only.is_ok(),
            "an empty booking endpoint: no bookings here"
        );
        for (key, value) in [
            ("booking.endpoint", serde_json::json!("127.0.0.1:50053")),
            ("booking.calls.max_attempts", serde_json::json!(0)),
        ] {
            let err = Config::load(None, &[(key, value)]).expect_err("invalid");
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn a_calls_section_changes_only_what_it_names() {
        let defaults = Config::load(None, &[]).expect("defaults load");
        let config = Config::load(
            None,
            &[
                ("catalog.calls.max_attempts", json!(1)),
                ("identity.calls.breaker.open_ms", json!(250)),
            ],
        )
        .expect("valid");
        assert_eq!(config.catalog.calls.max_attempts, 1);
        assert_eq!(
            config.catalog.calls.attempt_timeout_ms, defaults.catalog.calls.attempt_timeout_ms,
            "the section's other keys keep their defaults"
        );
        assert_eq!(config.catalog.calls.breaker, defaults.catalog.calls.breaker);
        assert_eq!(config.identity.calls.breaker.open_ms, 250);
        assert_eq!(
            config.identity.calls.breaker.consecutive_failures,
            defaults.identity.calls.breaker.consecutive_failures
        );
        let renamed = Config::load(None, &[("booking.request_timeout_ms", json!(8000))])
            .expect_err("a key that is no more");
        assert!(
            renamed.to_string().contains("[<service>.calls]"),
            "the error says where the key went: {renamed}"
        );
        for (key, value) in [
            ("catalog.calls.deadline_ms", json!(10)),
            ("identity.calls.breaker.failure_rate", json!(1.5)),
            ("catalog.calls.retries", json!(2)),
            ("catalog.request_timeout_ms", json!(5000)),
        ] {
            let err = Config::load(None, &[(key, value)]).expect_err("invalid");
            let field = key.rsplit('.').next().expect("a dotted key");
            assert!(err.to_string().contains(field), "{key}: {err}");
        }
    }

    #[test]
    fn the_payment_endpoint_is_optional_and_checked() {
        let config = Config::load(None, &[]).expect("defaults load");
        assert_eq!(
            config.payment.endpoint, "",
            "no remote payment service by default"
        );
        assert!(config.payment.calls.deadline_ms > 0);
        let remote = Config::load(
            None,
            &[("payment.endpoint", json!("http://127.0.0.1:50054"))],
        )
        .expect("a remote payment service");
        assert_eq!(remote.payment.endpoint, "http://127.0.0.1:50054");
        for (key, value) in [
            ("payment.endpoint", json!("127.0.0.1:50054")),
            ("payment.calls.attempt_timeout_ms", json!(0)),
        ] {
            let err = Config::load(None, &[(key, value)]).expect_err("invalid");
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn invalid_values_name_their_keys() {
        let err = Config::load(None, &[("catalog.max_nights", serde_json::json!(0))])
            .expect_err("invalid");
        assert!(err.to_string().contains("catalog.max_nights"), "{err}");
        let err = Config::load(None, &[("events.transport", serde_json::json!("pigeon"))])
            .expect_err("invalid");
        assert!(err.to_string().contains("transport"), "{err}");
        let err = Config::load(None, &[("events.max_attempts", serde_json::json!(0))])
            .expect_err("invalid");
        assert!(err.to_string().contains("events.max_attempts"), "{err}");
        let err = Config::load(None, &[("auth.jwks_max_age_seconds", serde_json::json!(0))])
            .expect_err("invalid");
        assert!(
            err.to_string().contains("auth.jwks_max_age_seconds"),
            "{err}"
        );
        let err = Config::load(None, &[("node.targets", serde_json::json!(["kitchen"]))])
            .expect_err("invalid");
        assert!(err.to_string().contains("targets"), "{err}");
    }

    #[test]
    fn the_verified_token_cache_is_on_by_default_and_bounded() {
        let config = Config::load(None, &[]).expect("defaults load");
        assert_eq!(
            config.auth.verified_token_cache_size,
            innkeeper_platform::auth::DEFAULT_VERIFIED_TOKEN_CACHE_SIZE
        );
        let off = Config::load(
            None,
            &[("auth.verified_token_cache_size", serde_json::json!(0))],
        )
        .expect("0 turns it off");
        assert_eq!(off.auth.verified_token_cache_size, 0);
        let err = Config::load(
            None,
            &[(
                "auth.verified_token_cache_size",
                serde_json::json!(MAX_VERIFIED_TOKEN_CACHE_SIZE + 1),
            )],
        )
        .expect_err("too large");
        assert!(
            err.to_string().contains("auth.verified_token_cache_size"),
            "{err}"
        );
    }

    #[test]
    fn trusted_proxies_are_networks_and_a_bad_one_names_its_key() {
        let config = Config::load(None, &[]).expect("defaults load");
        assert!(config.gateway.trusted_proxies.is_empty());
        assert_eq!(
            config.gateway.client_ip_header,
            innkeeper_gateway::ClientIpHeader::XForwardedFor
        );
        let config = Config::load(
            None,
            &[
                (
                    "gateway.trusted_proxies",
                    serde_json::json!(["10.0.0.0/8", "192.0.2.10"]),
                ),
                ("gateway.client_ip_header", serde_json::json!("forwarded")),
            ],
        )
        .expect("valid");
        assert!(
            config
                .gateway
                .trusted_proxies
                .contains([10, 1, 2, 3].into())
        );
        assert_eq!(
            config.gateway.client_ip_header,
            innkeeper_gateway::ClientIpHeader::Forwarded
        );
        let err = Config::load(
            None,
            &[(
                "gateway.trusted_proxies",
                serde_json::json!(["10.0.0.0/33"]),
            )],
        )
        .expect_err("invalid");
        let err = format!("{err:#}");
        assert!(
            err.contains("trusted_proxies") && err.contains("10.0.0.0/33"),
            "{err}"
        );
    }
}
