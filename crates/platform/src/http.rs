//! HTTP plumbing shared by every process: the operations routes (`/metrics`,
//! `/health/live`, `/health/ready`), request metrics and trace continuation.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;

use crate::telemetry;

/// The client's IP address as the edge determined it (behind trusted proxies, from their
/// forwarding header; otherwise the TCP peer), as a request and response extension.
///
/// The gateway inserts it on the response so [`track_requests`] can log it; requests it did not
/// handle are logged with their TCP peer (`ConnectInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

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
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical());
    let span = tracing::info_span!("http", http.method = %method, http.route = %route, http.status = tracing::field::Empty);
    telemetry::continue_trace(&span, request.headers());
    let started = Instant::now();
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.status", status);
    // The access log: who asked what, from where, how it went. The principal's id only (set by
    // the edge's auth layer on the response), never a token, password or body; the client IP
    // as the edge resolved it behind trusted proxies, else the TCP peer.
    let user_id = response
        .extensions()
        .get::<crate::auth::AuthenticatedPrincipal>()
        .map(|p| p.0.user_id.to_string());
    let client_ip = response
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0)
        .or(peer)
        .map(|ip| ip.to_string());
    tracing::info!(
        target: "innkeeper::access",
        parent: &span,
        method = %method,
        route = %route,
        status,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        user_id = user_id.as_deref().unwrap_or("-"),
        client_ip = client_ip.as_deref().unwrap_or("-"),
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

    /// The access log line `router` writes for `request`.
    async fn access_line(router: Router, request: http::Request<Body>) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let router = router.layer(axum::middleware::from_fn(track_requests));
        router.oneshot(request).await.expect("infallible");
        let logs = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
        logs.lines()
            .find(|l| l.contains("innkeeper::access"))
            .unwrap_or_else(|| panic!("no access log line in {logs}"))
            .to_owned()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_access_log_carries_the_client_ip_the_edge_resolved_else_the_peer() {
        let request = || {
            let mut request = http::Request::get("/x")
                .header("x-forwarded-for", "198.51.100.1")
                .body(Body::empty())
                .expect("request");
            let peer: SocketAddr = "10.0.0.5:40000".parse().expect("an address");
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        };
        // The edge resolved the client (behind a trusted proxy) and said so on the response.
        let resolved = Router::new().route(
            "/x",
            get(|| async {
                let mut response = "ok".into_response();
                let client = IpAddr::from([203, 0, 113, 9]);
                response.extensions_mut().insert(ClientIp(client));
                response
            }),
        );
        let line = access_line(resolved, request()).await;
        assert!(line.contains("\"client_ip\":\"203.0.113.9\""), "{line}");
        // A route outside the edge: the TCP peer; the header alone proves nothing.
        let plain = Router::new().route("/x", get(|| async { "ok" }));
        let line = access_line(plain.clone(), request()).await;
        assert!(line.contains("\"client_ip\":\"10.0.0.5\""), "{line}");
        // In-process, without a peer: "-".
        let bare = http::Request::get("/x")
            .body(Body::empty())
            .expect("request");
        let line = access_line(plain, bare).await;
        assert!(line.contains("\"client_ip\":\"-\""), "{line}");
    }
}
