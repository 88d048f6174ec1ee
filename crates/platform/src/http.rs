//! HTTP plumbing shared by every process: the operations routes (`/metrics`,
//! `/health/live`, `/health/ready`), request metrics and trace continuation.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;

use crate::telemetry;

/// A readiness check: a name and a future answering whether the dependency is usable.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

/// The named readiness checks of a process.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(String, ReadinessCheck)>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.checks.iter().map(|(n, _)| n))
            .finish()
    }
}

impl Readiness {
    /// Adds a check.
    pub fn add(&mut self, name: impl Into<String>, check: ReadinessCheck) {
        self.checks.push((name.into(), check));
    }
}

/// `/metrics`, `/health/live` and `/health/ready`.
pub fn operations_router(readiness: Readiness) -> Router {
    let handle = telemetry::metrics_handle();
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        handle.render(),
                    )
                }
            }),
        )
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({"status": "live"})) }),
        )
        .route("/health/ready", get(ready).with_state(Arc::new(readiness)))
}

async fn ready(State(readiness): State<Arc<Readiness>>) -> Response {
    let mut checks = serde_json::Map::new();
    let mut all_ok = true;
    for (name, check) in &readiness.checks {
        let ok = tokio::time::timeout(std::time::Duration::from_secs(2), check())
            .await
            .unwrap_or(false);
        all_ok &= ok;
        checks.insert(
            name.clone(),
            serde_json::Value::from(if ok { "up" } else { "down" }),
        );
    }
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body =
        serde_json::json!({"status": if all_ok { "ready" } else { "not_ready" }, "checks": checks});
    (status, axum::Json(body)).into_response()
}

/// Middleware: counts requests and records their latency per route (RED metrics) inside a
/// span that continues the caller's trace.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let span = tracing::info_span!("http", http.method = %method, http.route = %route, http.status = tracing::field::Empty);
    telemetry::continue_trace(&span, request.headers());
    let started = Instant::now();
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.status", status);
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("innkeeper_http_requests_total", &labels).increment(1);
    metrics::histogram!("innkeeper_http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}
