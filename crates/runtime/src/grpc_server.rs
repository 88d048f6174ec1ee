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
use innkeeper_payment::api::PaymentApi;
use innkeeper_platform::auth::Verifier;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The gRPC services this node serves, and the verifier their callers' tokens are checked
/// with.
pub(crate) struct GrpcServices {
    pub(crate) catalog: Option<Arc<dyn CatalogApi>>,
    pub(crate) identity: Option<Arc<dyn IdentityApi>>,
    pub(crate) booking: Option<Arc<dyn BookingApi>>,
    pub(crate) payment: Option<Arc<dyn PaymentApi>>,
    pub(crate) verifier: Arc<Verifier>,
}

impl GrpcServices {
    pub(crate) fn is_empty(&self) -> bool {
        self.catalog.is_none()
            && self.identity.is_none()
            && self.booking.is_none()
            && self.payment.is_none()
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
        if let Some(api) = self.payment {
            let service = innkeeper_payment::grpc::service(api, self.verifier.clone());
            health_reporter
                .set_service_status(
                    innkeeper_payment::grpc::SERVICE_NAME,
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use innkeeper_booking::api::{BookingStatus, IdempotencyKey, NewBooking};
    use innkeeper_catalog::api::HotelQuery;
    use innkeeper_identity::api::{Login, Register, RegisterRole};
    use innkeeper_kernel::{Clock as _, ErrorCode, Principal, SystemClock};
    use innkeeper_platform::auth::credential;
    use innkeeper_platform::testing::TempDir;
    use serde_json::json;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_util::sync::CancellationToken;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_reflection::pb::v1 as reflection;

    use crate::{Config, Node, NodeOptions};

    fn config(dir: &TempDir, more: &[(&'static str, serde_json::Value)]) -> Config {
        let mut overrides = vec![
            ("node.data_dir", json!(dir.path)),
            ("node.listen", json!("127.0.0.1:0")),
        ];
        overrides.extend_from_slice(more);
        Config::load(None, &overrides).expect("config")
    }

    /// A node serving until [`Serving::stop`].
    struct Serving {
        stop: CancellationToken,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    }

    impl Serving {
        fn start(node: Node) -> Serving {
            let stop = CancellationToken::new();
            let stopped = stop.clone();
            let task =
                tokio::spawn(node.run_until_stopped(async move { stopped.cancelled().await }));
            Serving { stop, task }
        }

        /// Shuts the node down and waits for it to drain.
        async fn stop(self) {
            self.stop.cancel();
            let stopped = tokio::time::timeout(std::time::Duration::from_secs(30), self.task)
                .await
                .expect("stopped in time")
                .expect("task");
            stopped.expect("clean shutdown");
        }
    }

    /// `GET /health/ready` over a plain HTTP/1.1 connection; the body as JSON.
    async fn readiness(addr: SocketAddr) -> serde_json::Value {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request =
            format!("GET /health/ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        let (_, body) = response.split_once("\r\n\r\n").expect("a body");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_gateway_node_books_on_a_booking_node_over_grpc() {
        // The services node: catalog, identity and booking, serving gRPC.
        let services_dir = TempDir::new("runtime_grpc_services");
        let services = Node::build(
            &config(
                &services_dir,
                &[
                    ("node.targets", json!(["catalog", "identity", "booking"])),
                    ("node.grpc_listen", json!("127.0.0.1:0")),
                ],
            ),
            NodeOptions::default(),
        )
        .await
        .expect("services node");
        assert!(services.runs_booking());
        let grpc = services.grpc_addr().expect("serves gRPC");
        let (catalog, identity) = (services.catalog(), services.identity());
        let local = services.booking().expect("local bookings");
        let services = Serving::start(services);

        // Health and reflection name the booking service.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
            .expect("uri")
            .connect_lazy();
        let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
            .check(tonic_health::pb::HealthCheckRequest {
                service: innkeeper_booking::grpc::SERVICE_NAME.to_owned(),
            })
            .await
            .expect("health")
            .into_inner();
        assert_eq!(health.status, ServingStatus::Serving as i32);
        let request = reflection::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                reflection::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        };
        let mut answers =
            reflection::server_reflection_client::ServerReflectionClient::new(channel)
                .server_reflection_info(futures::stream::iter([request]))
                .await
                .expect("reflection")
                .into_inner();
        let answer = answers.message().await.expect("answer").expect("one");
        let Some(reflection::server_reflection_response::MessageResponse::ListServicesResponse(
            list,
        )) = answer.message_response
        else {
            panic!("not a service list: {answer:?}");
        };
        let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
        assert!(
            names.contains(&innkeeper_booking::grpc::SERVICE_NAME),
            "{names:?}"
        );

        // The gateway node reaches all three over gRPC, bookings included.
        let gateway_dir = TempDir::new("runtime_grpc_gateway");
        let endpoint = json!(format!("http://{grpc}"));
        let gateway = Node::build(
            &config(
                &gateway_dir,
                &[
                    ("node.targets", json!(["gateway"])),
                    ("node.grpc_listen", json!("")),
                    ("catalog.endpoint", endpoint.clone()),
                    ("identity.endpoint", endpoint.clone()),
                    ("booking.endpoint", endpoint),
                ],
            ),
            NodeOptions::default(),
        )
        .await
        .expect("gateway node");
        assert!(!gateway.runs_booking());
        assert!(gateway.grpc_addr().is_none());
        let remote = gateway.booking().expect("a remote booking client");
        let http = gateway.http_addr();
        let gateway = Serving::start(gateway);
        let ready = readiness(http).await;
        assert_eq!(ready["checks"]["booking"], "up", "{ready}");

        // A guest with a real access token books through the remote client.
        innkeeper_catalog::demo::seed_demo(&catalog, &Principal::DEVELOPMENT, SystemClock.today())
            .await
            .expect("seed");
        let hotel = catalog
            .list_hotels(HotelQuery {
                limit: Some(1),
                ..HotelQuery::default()
            })
            .await
            .expect("hotels")
            .items[0]
            .id;
        let room_type = catalog.get_hotel(hotel).await.expect("hotel").room_types[0].id;
        let password = "a long guest passphrase 1";
        let guest = identity
            .register(Register {
                email: "ana@example.test".to_owned(),
                password: password.to_owned(),
                name: "Ana Lima".to_owned(),
                role: RegisterRole::Guest,
            })
            .await
            .expect("registered")
            .principal();
        let token = identity
            .login(Login {
                email: "ana@example.test".to_owned(),
                password: password.to_owned(),
            })
            .await
            .expect("login")
            .access_token;
        let check_in = SystemClock.today() + time::Duration::days(20);
        let stay = NewBooking {
            hotel_id: hotel,
            room_type_id: room_type,
            check_in,
            check_out: check_in + time::Duration::days(2),
            guests: 1,
            rooms: None,
            guest_name: "Ana Lima".to_owned(),
            guest_email: None,
            special_requests: None,
        };
        let key = || Some(IdempotencyKey::parse("runtime-1").expect("key"));
        let booked =
            credential::scope(token.clone(), remote.create(&guest, stay.clone(), key())).await;
        assert!(!booked.replayed);
        let booked = booked.result.expect("booked over gRPC");
        assert_eq!(booked.status, BookingStatus::PendingPayment);
        assert_eq!(local.get(&guest, booked.id).await, Ok(booked.clone()));
        let again = credential::scope(token.clone(), remote.create(&guest, stay, key())).await;
        assert!(again.replayed);
        assert_eq!(again.result, Ok(booked.clone()));
        // Without the caller's token the booking node refuses.
        let err = remote.get(&guest, booked.id).await.expect_err("anonymous");
        assert_eq!(err.code, ErrorCode::Unauthenticated);
        gateway.stop().await;
        services.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_gateway_node_reaches_a_payment_node_over_grpc() {
        // The payment service (with identity, for the tokens) in a process of its own.
        let services_dir = TempDir::new("runtime_grpc_payment");
        let services = Node::build(
            &config(
                &services_dir,
                &[
                    ("node.targets", json!(["identity", "payment"])),
                    ("node.grpc_listen", json!("127.0.0.1:0")),
                ],
            ),
            NodeOptions::default(),
        )
        .await
        .expect("payment node");
        let grpc = services.grpc_addr().expect("serves gRPC");
        let identity = services.identity();
        let services = Serving::start(services);
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
            .expect("uri")
            .connect_lazy();
        let health = tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest {
                service: innkeeper_payment::grpc::SERVICE_NAME.to_owned(),
            })
            .await
            .expect("health")
            .into_inner();
        assert_eq!(health.status, ServingStatus::Serving as i32);

        // A gateway without bookings reaches it at payment.endpoint and waits for it.
        let gateway_dir = TempDir::new("runtime_grpc_payment_gateway");
        let endpoint = json!(format!("http://{grpc}"));
        let gateway = Node::build(
            &config(
                &gateway_dir,
                &[
                    ("node.targets", json!(["gateway"])),
                    ("node.grpc_listen", json!("")),
                    ("catalog.endpoint", endpoint.clone()),
                    ("identity.endpoint", endpoint.clone()),
                    ("booking.endpoint", json!("")),
                    ("payment.endpoint", endpoint),
                ],
            ),
            NodeOptions::default(),
        )
        .await
        .expect("gateway node");
        let remote = gateway.payment().expect("a remote payment client");
        let http = gateway.http_addr();
        let gateway = Serving::start(gateway);
        let ready = readiness(http).await;
        assert_eq!(ready["checks"]["payment"], "up", "{ready}");

        // A guest's read goes out with the guest's token; without it the payment node refuses.
        let password = "a long guest passphrase 1";
        let guest = identity
            .register(Register {
                email: "bea@example.test".to_owned(),
                password: password.to_owned(),
                name: "Bea Lima".to_owned(),
                role: RegisterRole::Guest,
            })
            .await
            .expect("registered")
            .principal();
        let token = identity
            .login(Login {
                email: "bea@example.test".to_owned(),
                password: password.to_owned(),
            })
            .await
            .expect("login")
            .access_token;
        let unknown = innkeeper_payment::api::PaymentId::new();
        let err = credential::scope(token, remote.get(&guest, unknown))
            .await
            .expect_err("no such payment");
        assert_eq!(err.code, ErrorCode::NotFound);
        let err = remote.get(&guest, unknown).await.expect_err("anonymous");
        assert_eq!(err.code, ErrorCode::Unauthenticated);
        gateway.stop().await;
        services.stop().await;
    }
}
