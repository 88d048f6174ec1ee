//! Failure injection, so tests and demos can make the provider slow, flaky or down: a switch
//! read by a middleware in front of every route except `/_admin`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use serde::{Deserialize, Serialize};

use crate::error::ProviderError;

/// What to inject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Added before every request runs.
    pub latency_ms: u64,
    /// Share of requests answered `500 api_error` before they run, `0.0..=1.0`.
    pub error_rate: f64,
    /// Share of requests that run but whose answer is replaced by `500 api_error`,
    /// `0.0..=1.0`: the effect happened, the caller does not know it.
    pub lost_response_rate: f64,
    /// Everything is refused with `503` and the connection closed.
    pub down: bool,
}

/// The longest latency accepted: a minute.
const MAX_LATENCY_MS: u64 = 60_000;

impl Faults {
    /// The field that is out of range and why.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(("error_rate", "must be between 0.0 and 1.0"));
        }
        if !(0.0..=1.0).contains(&self.lost_response_rate) {
            return Err(("lost_response_rate", "must be between 0.0 and 1.0"));
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(("latency_ms", "must be at most 60000"));
        }
        Ok(())
    }
}

/// The faults in force, shared by the middleware and the admin endpoint.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch(Arc<RwLock<Faults>>);

impl FaultSwitch {
    /// A switch set to `faults`.
    pub fn new(faults: Faults) -> Self {
        Self(Arc::new(RwLock::new(faults)))
    }

    /// The faults in force.
    pub fn get(&self) -> Faults {
        *self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the faults in force.
    pub fn set(&self, faults: Faults) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = faults;
    }
}

/// The middleware: down, then latency, then random errors, then the route, then lost answers.
pub async fn inject(State(switch): State<FaultSwitch>, request: Request, next: Next) -> Response {
    let faults = switch.get();
    if faults.down {
        metrics::counter!("innkeeper_payment_provider_injected_faults_total", "fault" => "down")
            .increment(1);
        let mut response =
            ProviderError::api(503, "The provider is down (injected fault).").into_response();
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
        return response;
    }
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.error_rate > 0.0 && rand::random::<f64>() < faults.error_rate {
        metrics::counter!("innkeeper_payment_provider_injected_faults_total", "fault" => "error")
            .increment(1);
        return ProviderError::api(
            500,
            "An error occurred with our connection to the processor (injected fault).",
        )
        .into_response();
    }
    let response = next.run(request).await;
    if faults.lost_response_rate > 0.0 && rand::random::<f64>() < faults.lost_response_rate {
        metrics::counter!("innkeeper_payment_provider_injected_faults_total", "fault" => "lost_response")
            .increment(1);
        return ProviderError::api(
            500,
            "An error occurred with our connection to the processor (injected fault).",
        )
        .into_response();
    }
    response
}
