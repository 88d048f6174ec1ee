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
    // The access log: who asked what, how it went. The principal's id only (set by the edge's
    // auth layer on the response), never a token, password or body.
    let user_id = response
        .extensions()
        .get::<crate::auth::AuthenticatedPrincipal>()
        .map(|p| p.0.user_id.to_string());
    tracing::info!(
        target: "innkeeper::access",
        parent: &span,
        method = %method,
        route = %route,
        status,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        user_id = user_id.as_deref().unwrap_or("-"),
        "request"
    );
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use innkeeper_kernel::Principal;
    use tower::ServiceExt as _;

    use super::*;
    use crate::auth::AuthenticatedPrincipal;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_access_log_names_the_principal_and_never_the_token() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);

        // What the edge's auth layer does: the verified principal on the response.
        let router = Router::new()
            .route(
                "/me",
                get(|| async {
                    let mut response = "ok".into_response();
                    response
                        .extensions_mut()
                        .insert(AuthenticatedPrincipal(Principal::DEVELOPMENT));
                    response
                }),
            )
            .layer(axum::middleware::from_fn(track_requests));
        let request = http::Request::get("/me")
            .header("authorization", "Bearer secret-token-value")
            .body(Body::empty())
            .expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), 200);

        let logs = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
        let line = logs
            .lines()
            .find(|l| l.contains("innkeeper::access"))
            .unwrap_or_else(|| panic!("no access log line in {logs}"));
        assert!(
            line.contains(&Principal::DEVELOPMENT.user_id.to_string()),
            "{line}"
        );
        assert!(line.contains("\"route\":\"/me\""), "{line}");
        assert!(!logs.contains("secret-token-value"), "{logs}");
    }
}
