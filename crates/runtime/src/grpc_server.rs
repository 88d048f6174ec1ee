//! The gRPC server of a node: the local services' adapters, the standard health service,
//! reflection, and per-method metrics with trace continuation.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use anyhow::Context as _;
use futures::future::BoxFuture;
use innkeeper_booking::api::BookingApi;
use innkeeper_catalog::api::CatalogApi;
use innkeeper_identity::api::IdentityApi;
use innkeeper_platform::auth::Verifier;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The gRPC services this node serves, and the verifier their callers' tokens are checked
/// with.
pub(crate) struct GrpcServices {
    pub(crate) catalog: Option<Arc<dyn CatalogApi>>,
    pub(crate) identity: Option<Arc<dyn IdentityApi>>,
    pub(crate) booking: Option<Arc<dyn BookingApi>>,
    pub(crate) verifier: Arc<Verifier>,
}

impl GrpcServices {
    pub(crate) fn is_empty(&self) -> bool {
        self.catalog.is_none() && self.identity.is_none() && self.booking.is_none()
    }

    pub(crate) async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(innkeeper_proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("gRPC reflection")?;
        let mut routes = tonic::service::Routes::default()
            .add_service(health_service)
            .add_service(reflection);
        if let Some(api) = self.catalog {
            let service = innkeeper_catalog::grpc::service(api, self.verifier.clone());
            health_reporter
                .set_service_status(
                    innkeeper_catalog::grpc::SERVICE_NAME,
                    tonic_health::ServingStatus::Serving,
                )
                .await;
            routes = routes.add_service(service);
        }
        if let Some(api) = self.identity {
            let service = innkeeper_identity::grpc::service(api, self.verifier.clone());
            health_reporter
                .set_service_status(
                    innkeeper_identity::grpc::SERVICE_NAME,
                    tonic_health::ServingStatus::Serving,
                )
                .await;
            routes = routes.add_service(service);
        }
        if let Some(api) = self.booking {
            let service = innkeeper_booking::grpc::service(api, self.verifier.clone());
            health_reporter
                .set_service_status(
                    innkeeper_booking::grpc::SERVICE_NAME,
                    tonic_health::ServingStatus::Serving,
                )
                .await;
            routes = routes.add_service(service);
        }
        health_reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let incoming = tokio_stream_listener(listener);
        tonic::transport::Server::builder()
            .layer(tower::layer::layer_fn(GrpcMetrics))
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, async move { shutdown.cancelled().await })
            .await
            .context("gRPC server")
    }
}

fn tokio_stream_listener(
    listener: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| {
            let _ = stream.set_nodelay(true);
            stream
        });
        Some((accepted, listener))
    })
}

/// Records count and latency per gRPC method, inside a span continuing the caller's trace.
#[derive(Clone)]
struct GrpcMetrics<S>(S);

impl<S, B> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let span = tracing::info_span!("grpc", rpc.method = %method);
        innkeeper_platform::telemetry::continue_trace(&span, request.headers());
        let started = Instant::now();
        let future = self.0.call(request);
        Box::pin(tracing::Instrument::instrument(
            async move {
                let response = future.await?;
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0")
                    .to_owned();
                let labels = [("method", method), ("code", code)];
                metrics::counter!("innkeeper_grpc_requests_total", &labels).increment(1);
                metrics::histogram!("innkeeper_grpc_request_duration_seconds", &labels[..1])
                    .record(started.elapsed().as_secs_f64());
                Ok(response)
            },
            span,
        ))
    }
}
