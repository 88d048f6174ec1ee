//! Building and running a node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use innkeeper_booking::api::{BookingApi, BookingClient};
use innkeeper_booking::grpc::BookingGrpcClient;
use innkeeper_booking::module::BookingModule;
use innkeeper_catalog::CatalogSettings;
use innkeeper_catalog::api::{CatalogApi, CatalogClient};
use innkeeper_catalog::grpc::CatalogGrpcClient;
use innkeeper_catalog::module::CatalogModule;
use innkeeper_events::kafka::{KafkaConsumer, KafkaTransport, ensure_topics};
use innkeeper_events::{Bus, Consumer, Relay};
use innkeeper_identity::api::{IdentityApi, IdentityClient};
use innkeeper_identity::grpc::IdentityGrpcClient;
use innkeeper_identity::module::IdentityModule;
use innkeeper_kernel::{Clock, SystemClock};
use innkeeper_payment::PaymentModule;
use innkeeper_payment::api::{PaymentApi, PaymentClient};
use innkeeper_payment::grpc::PaymentGrpcClient;
use innkeeper_payment_provider::PaymentProviderModule;
use innkeeper_platform::auth::{ServiceCredential, Verifier};
use innkeeper_platform::db::{Database, PoolOptions};
use innkeeper_platform::http::{Readiness, operations_router, track_requests};
use innkeeper_platform::supervisor::Supervisor;
use tokio::net::TcpListener;

use crate::config::{Config, EventTransport, EventsConfig};
use crate::grpc_server::GrpcServices;
use crate::target::{Target, services};

/// Readiness of a remote service: one call to its standard gRPC health service.
fn remote_health_check(
    endpoint: &str,
    service: &'static str,
) -> anyhow::Result<innkeeper_platform::http::ReadinessCheck> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .with_context(|| format!("invalid endpoint {endpoint:?}"))?
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(1))
        .connect_lazy();
    Ok(Arc::new(move || {
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        Box::pin(async move {
            let request = tonic_health::pb::HealthCheckRequest {
                service: service.to_owned(),
            };
            matches!(
                client.check(request).await.map(|r| r.into_inner().status),
                Ok(s) if s == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
            )
        })
    }))
}

/// Connects to a service's database, creating the data directory for SQLite files; `key` names
/// the configuration key in errors.
pub async fn connect(
    config: &Config,
    url: &str,
    max_connections: u32,
    key: &str,
) -> anyhow::Result<Database> {
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.node.data_dir).with_context(|| {
            format!(
                "node.data_dir: cannot create {}",
                config.node.data_dir.display()
            )
        })?;
    }
    Database::connect(
        url,
        PoolOptions {
            max_connections,
            ..PoolOptions::default()
        },
    )
    .await
    .with_context(|| key.to_owned())
}

/// Readiness of a local database: one ping.
fn database_check(db: &Database) -> innkeeper_platform::http::ReadinessCheck {
    let db = db.clone();
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move { db.ping().await })
    })
}

/// Starts the supervised relay of a service's outbox (`<service>.events_relay`). Returns the
/// in-process bus when that is the transport, for consumers in this process to subscribe to.
fn start_relay(
    supervisor: &mut Supervisor,
    events: &EventsConfig,
    db: &Database,
    service: &str,
    topics: &'static [&'static str],
) -> anyhow::Result<Option<Bus>> {
    let name = format!("{service}.events_relay");
    let settings = events.relay_settings();
    let shutdown = supervisor.shutdown_token();
    match events.transport {
        EventTransport::Bus => {
            let bus = Bus::new(db.clone());
            let relay = Relay::to_bus(bus.clone(), settings);
            supervisor.spawn(name, relay.run(shutdown));
            Ok(Some(bus))
        }
        EventTransport::Kafka => {
            let kafka = events.kafka_settings();
            let transport = KafkaTransport::new(&kafka).context("events.kafka_brokers")?;
            let relay = Relay::new(db.clone(), Arc::new(transport), settings);
            let partitions = events.kafka_partitions;
            supervisor.spawn(name, async move {
                // The brokers may be down at start: the relay runs anyway and the backlog
                // waits in the outbox (brokers that auto-create topics need no creation).
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    created = ensure_topics(&kafka, topics, partitions) => {
                        if let Err(err) = created {
                            tracing::warn!(error = format!("{err:#}"), ?topics, "cannot create the event topics");
                        }
                    }
                }
                relay.run(shutdown).await
            });
            Ok(None)
        }
    }
}

/// Starts the booking relay (`booking.events_relay`) and the booking consumers, each under a
/// dispatcher keeping its inbox and dead letters in the booking database:
/// - `hold_releases` on `booking.events` (the service's own events);
/// - `hold_expiries` on `catalog.events` (on the bus: subscribed to the catalog's outbox, so the
///   catalog must run in this process; otherwise nothing expires unpaid bookings here);
/// - `payment_outcomes` on `payment.events` (on the bus: subscribed to the payment service's
///   outbox, so the payment target must run in this process; otherwise nothing confirms
///   bookings here).
///
/// Returns the booking's bus when that is the transport, for the payment service's consumer.
async fn start_booking_consumers(
    supervisor: &mut Supervisor,
    events: &EventsConfig,
    db: &Database,
    module: &BookingModule,
    catalog_bus: Option<&Bus>,
    payment_bus: Option<&Bus>,
) -> anyhow::Result<Option<Bus>> {
    let topics: &'static [&'static str] = &[
        innkeeper_booking::contracts::TOPIC,
        innkeeper_booking::contracts::PAYMENT_TOPIC,
    ];
    let booking_bus = start_relay(supervisor, events, db, "booking", topics)?;
    let settings = events.consumer_settings();
    let releases: Arc<dyn Consumer> = module.hold_releases.clone();
    let expiries: Arc<dyn Consumer> = module.hold_expiries.clone();
    let payments: Arc<dyn Consumer> = module.payment_outcomes.clone();
    match events.transport {
        EventTransport::Bus => {
            let Some(booking_bus) = booking_bus else {
                anyhow::bail!("events.transport is bus but the booking relay made no bus");
            };
            let mut subscriptions = vec![(booking_bus.clone(), releases)];
            match catalog_bus {
                Some(bus) => subscriptions.push((bus.clone(), expiries)),
                None => tracing::warn!(
                    "the catalog does not run in this process and events.transport is bus: \
                     unpaid bookings are not expired when their holds lapse"
                ),
            }
            match payment_bus {
                Some(bus) => subscriptions.push((bus.clone(), payments)),
                None => tracing::warn!(
                    "the payment service does not run in this process and events.transport is \
                     bus: bookings are not confirmed or cancelled by payments (a payment \
                     service in another process needs events.transport = kafka)"
                ),
            }
            for (bus, consumer) in subscriptions {
                let name = consumer.name().to_owned();
                let subscribed = bus
                    .subscribe(consumer, db.clone(), settings.clone())
                    .await
                    .with_context(|| format!("subscribing {name}"))?;
                supervisor.spawn(name, subscribed.run(supervisor.shutdown_token()));
            }
            Ok(Some(booking_bus))
        }
        EventTransport::Kafka => {
            for consumer in [releases, expiries, payments] {
                spawn_kafka_consumer(supervisor, events, db, consumer);
            }
            Ok(None)
        }
    }
}

/// The payment service's consumer `payment.booking_outcomes` on `booking.events`, under a
/// dispatcher on the payment database (on the bus: subscribed to the booking's outbox, so the
/// booking target must run in this process; otherwise no ended booking cancels or refunds its
/// payment here).
async fn start_payment_consumers(
    supervisor: &mut Supervisor,
    events: &EventsConfig,
    db: &Database,
    module: &PaymentModule,
    booking_bus: Option<&Bus>,
) -> anyhow::Result<()> {
    let settings = events.consumer_settings();
    let consumer: Arc<dyn Consumer> = module.booking_outcomes.clone();
    let name = consumer.name().to_owned();
    match events.transport {
        EventTransport::Bus => {
            let Some(bus) = booking_bus else {
                tracing::warn!(
                    "bookings do not run in this process and events.transport is bus: ended \
                     bookings do not cancel or refund their payments, and payment outcomes \
                     reach no booking (a booking service in another process needs \
                     events.transport = kafka)"
                );
                return Ok(());
            };
            let subscribed = bus
                .subscribe(consumer, db.clone(), settings)
                .await
                .with_context(|| format!("subscribing {name}"))?;
            supervisor.spawn(name, subscribed.run(supervisor.shutdown_token()));
        }
        EventTransport::Kafka => spawn_kafka_consumer(supervisor, events, db, consumer),
    }
    Ok(())
}

/// Runs `consumer` on Kafka under the supervisor, its inbox and dead letters in `db`. Its
/// topics are created first when missing: a consumer subscribed to a topic that does not exist
/// yet sees it only at its next metadata refresh (five minutes in librdkafka), so the events
/// of a producer starting later in another process (the booking service for the payment
/// service's consumer, and the other way round) would wait that long. Brokers that are down
/// at start delay the subscription, as they would delay every record anyway.
fn spawn_kafka_consumer(
    supervisor: &mut Supervisor,
    events: &EventsConfig,
    db: &Database,
    consumer: Arc<dyn Consumer>,
) {
    let kafka = events.kafka_settings();
    let (settings, partitions) = (events.consumer_settings(), events.kafka_partitions);
    let (db, shutdown) = (db.clone(), supervisor.shutdown_token());
    let name = consumer.name().to_owned();
    supervisor.spawn(name.clone(), async move {
        let topics = consumer.topics();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            created = ensure_topics(&kafka, &topics, partitions) => {
                if let Err(err) = created {
                    tracing::warn!(consumer = %name, error = format!("{err:#}"), ?topics, "cannot create the consumed topics");
                }
            }
        }
        KafkaConsumer::new(&kafka, consumer, db, settings)
            .with_context(|| format!("events.kafka_brokers: {name}"))?
            .run(shutdown)
            .await
    });
}

/// The base URL at which this node reaches itself: its bound HTTP address, over loopback when
/// it listens on every interface.
fn own_base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// What a caller can vary beyond the config (tests, `innkeeper up`).
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The clock every service uses.
    pub clock: Arc<dyn Clock>,
    /// A one-shot command (seed, migrate), not a server: read models such as the catalog's
    /// search index are not loaded, so bulk writes do not pay for keeping them fresh.
    pub one_shot: bool,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            one_shot: false,
        }
    }
}

/// A built node: services started, listeners bound, not yet serving.
pub struct Node {
    supervisor: Supervisor,
    http_listener: TcpListener,
    http_router: Router,
    grpc: Option<(TcpListener, GrpcServices)>,
    catalog: CatalogClient,
    local_catalog: Option<CatalogModule>,
    identity: IdentityClient,
    local_identity: Option<IdentityModule>,
    booking: Option<BookingClient>,
    runs_booking: bool,
    payment: Option<PaymentClient>,
    grace: Duration,
    databases: Vec<Database>,
    catalog_bus: Option<Bus>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("http", &self.http_addr())
            .field("grpc", &self.grpc_addr())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Wires the node for `config`: starts the local services, connects clients for the
    /// remote ones, binds the listeners (port 0 picks a free port).
    pub async fn build(config: &Config, options: NodeOptions) -> anyhow::Result<Node> {
        // Install the metrics recorder before any service records (start-up gauges included).
        let _ = innkeeper_platform::telemetry::metrics_handle();
        let local = services(&config.node.targets);
        // Bound first: services of this node that call each other over HTTP (payment and the
        // provider imitation) need its address.
        let http_listener = TcpListener::bind(config.node.listen)
            .await
            .with_context(|| format!("node.listen: cannot listen on {}", config.node.listen))?;
        let own_url = own_base_url(http_listener.local_addr().context("node.listen")?);
        let mut supervisor = Supervisor::new();
        let mut readiness = Readiness::default();
        let (mut grpc_catalog, mut grpc_identity) = (None, None);
        let (mut grpc_booking, mut grpc_payment) = (None, None);
        let mut databases = Vec::new();
        let mut catalog_bus = None;

        // Catalog: local, or reached over gRPC.
        let (catalog, local_catalog) = if local.contains(&Target::Catalog) {
            let db = connect(
                config,
                &config.catalog_database_url(),
                config.catalog.max_connections,
                "catalog.database_url",
            )
            .await?;
            let settings = CatalogSettings {
                max_nights: config.catalog.max_nights,
                max_hold_ttl_seconds: config.catalog.max_hold_ttl_seconds,
                search_horizon_days: config.catalog.search_horizon_days,
                ..CatalogSettings::default()
            };
            let module = if options.one_shot {
                CatalogModule::open(&db, options.clock.clone(), settings).await
            } else {
                CatalogModule::start(&db, options.clock.clone(), settings).await
            }
            .context("starting the catalog")?;
            readiness.add("catalog_database", database_check(&db));
            if !options.one_shot {
                catalog_bus = start_relay(
                    &mut supervisor,
                    &config.events,
                    &db,
                    "catalog",
                    &[innkeeper_events::contracts::catalog::TOPIC],
                )?;
            }
            supervisor.spawn(
                "catalog.hold_sweeper",
                module.clone().run_hold_sweeper(
                    Duration::from_millis(config.catalog.hold_sweep_interval_ms),
                    supervisor.shutdown_token(),
                ),
            );
            if config.catalog.search_index_reload_seconds > 0 {
                supervisor.spawn(
                    "catalog.search_index_reloader",
                    module.clone().run_index_reloader(
                        Duration::from_secs(config.catalog.search_index_reload_seconds),
                        supervisor.shutdown_token(),
                    ),
                );
            }
            let api: Arc<dyn CatalogApi> = module.service.clone();
            grpc_catalog = Some(api.clone());
            databases.push(db);
            (CatalogClient::new(api), Some(module))
        } else {
            let remote =
                CatalogGrpcClient::connect(&config.catalog.endpoint, config.catalog.calls.clone())
                    .await
                    .context("catalog.endpoint")?;
            // The gateway and the booking service call the catalog; a node without either is
            // ready without one.
            if local.contains(&Target::Gateway) || local.contains(&Target::Booking) {
                readiness.add(
                    "catalog",
                    remote_health_check(
                        &config.catalog.endpoint,
                        innkeeper_catalog::grpc::SERVICE_NAME,
                    )?,
                );
            }
            (CatalogClient::new(Arc::new(remote)), None)
        };

        // Identity: local, or reached over gRPC.
        let (identity, local_identity) = if local.contains(&Target::Identity) {
            let db = connect(
                config,
                &config.identity_database_url(),
                config.identity.max_connections,
                "identity.database_url",
            )
            .await?;
            let module =
                IdentityModule::start(&db, options.clock.clone(), config.identity_settings())
                    .await
                    .context("starting identity")?;
            readiness.add("identity_database", database_check(&db));
            supervisor.spawn(
                "identity.token_sweeper",
                module.clone().run_token_sweeper(
                    Duration::from_secs(config.identity.token_sweep_interval_seconds),
                    supervisor.shutdown_token(),
                ),
            );
            let api: Arc<dyn IdentityApi> = module.service.clone();
            grpc_identity = Some(api.clone());
            databases.push(db);
            (IdentityClient::new(api), Some(module))
        } else {
            let remote = IdentityGrpcClient::connect(
                &config.identity.endpoint,
                config.identity.calls.clone(),
            )
            .await
            .context("identity.endpoint")?;
            // The gateway needs identity for logins and keys; other nodes only for keys, which
            // they fetch when a token arrives.
            if local.contains(&Target::Gateway) {
                readiness.add(
                    "identity",
                    remote_health_check(
                        &config.identity.endpoint,
                        innkeeper_identity::grpc::SERVICE_NAME,
                    )?,
                );
            }
            (IdentityClient::new(Arc::new(remote)), None)
        };

        // The booking service's own identity, for its calls to services in other processes
        // (the saga's holds at a remote catalog, payments at a remote payment service); in one
        // process they are plain calls and need none.
        let remote_payment =
            !local.contains(&Target::Payment) && !config.payment.endpoint.trim().is_empty();
        let booking_credential =
            if local.contains(&Target::Booking) && (local_catalog.is_none() || remote_payment) {
                Some(
                    ServiceCredential::new(
                        "booking",
                        &config.auth.service_secret,
                        Arc::new(identity.clone()),
                    )
                    .map_err(|e| anyhow::anyhow!("{}", e.errors[0].message))
                    .context("auth.service_secret")?,
                )
            } else {
                None
            };

        // Payment: local, or reached over gRPC at `payment.endpoint` (none when it is empty).
        // A local one's relay publishes `payment.events`; its consumer of `booking.events`
        // starts once bookings have started.
        let mut payment_bus = None;
        let local_payment = if local.contains(&Target::Payment) {
            let db = connect(
                config,
                &config.payment_database_url(),
                config.payment.max_connections,
                "payment.database_url",
            )
            .await?;
            let mut settings = config
                .payment
                .settings()
                .map_err(|problems| anyhow::anyhow!(problems.join("; ")))?;
            if local.contains(&Target::PaymentProvider) {
                // The provider imitation runs here: call it here, whatever provider_url says.
                settings.provider_url = format!("{own_url}/provider");
            }
            let module = PaymentModule::start(&db, options.clock.clone(), settings)
                .await
                .context("starting payments")?;
            readiness.add("payment_database", database_check(&db));
            if !options.one_shot {
                let topics: &'static [&'static str] = &[innkeeper_payment::contracts::TOPIC];
                payment_bus = start_relay(&mut supervisor, &config.events, &db, "payment", topics)?;
                supervisor.spawn(
                    "payment.worker",
                    module.clone().run_worker(supervisor.shutdown_token()),
                );
            }
            let api: Arc<dyn PaymentApi> = module.service.clone();
            grpc_payment = Some(api);
            Some((module, db))
        } else {
            None
        };
        let payment = match &local_payment {
            Some((module, _)) => Some(module.client()),
            // The booking service opens payments, the gateway shows them: nothing else here
            // calls the payment service.
            None if remote_payment
                && (local.contains(&Target::Booking) || local.contains(&Target::Gateway)) =>
            {
                let mut remote = PaymentGrpcClient::connect(
                    &config.payment.endpoint,
                    config.payment.calls.clone(),
                )
                .await
                .context("payment.endpoint")?;
                if let Some(credential) = &booking_credential {
                    // Intents are opened as the booking service, not as the guest booking.
                    remote = remote.with_service_credential(credential.clone());
                }
                readiness.add(
                    "payment",
                    remote_health_check(
                        &config.payment.endpoint,
                        innkeeper_payment::grpc::SERVICE_NAME,
                    )?,
                );
                Some(PaymentClient::new(Arc::new(remote)))
            }
            None => None,
        };

        // Booking: local, or reached over gRPC by this node's gateway (the only caller of the
        // booking service); a node that runs neither needs no booking client.
        let runs_booking = local.contains(&Target::Booking);
        let mut booking_bus = None;
        let booking = if runs_booking {
            let db = connect(
                config,
                &config.booking_database_url(),
                config.booking.max_connections,
                "booking.database_url",
            )
            .await?;
            // The saga's hold calls go to the catalog under the booking service's own
            // identity; in one process they are plain calls and need none.
            let holds = match (&local_catalog, &booking_credential) {
                (Some(_), _) => catalog.clone(),
                (None, None) => anyhow::bail!("a remote catalog needs the booking's credential"),
                (None, Some(credential)) => {
                    let remote = CatalogGrpcClient::connect(
                        &config.catalog.endpoint,
                        config.catalog.calls.clone(),
                    )
                    .await
                    .context("catalog.endpoint")?
                    .with_service_credential(credential.clone());
                    CatalogClient::new(Arc::new(remote))
                }
            };
            // Bookings open their payments in-process, or over gRPC at a remote payment
            // service; with neither they are made without one.
            let module = BookingModule::start(
                &db,
                holds,
                payment.clone(),
                options.clock.clone(),
                config.booking_settings(),
            )
            .await
            .context("starting bookings")?;
            readiness.add("booking_database", database_check(&db));
            if !options.one_shot {
                booking_bus = start_booking_consumers(
                    &mut supervisor,
                    &config.events,
                    &db,
                    &module,
                    catalog_bus.as_ref(),
                    payment_bus.as_ref(),
                )
                .await?;
                supervisor.spawn(
                    "booking.key_reaper",
                    module.clone().run_key_reaper(
                        Duration::from_secs(config.booking.key_reap_interval_seconds),
                        supervisor.shutdown_token(),
                    ),
                );
            }
            databases.push(db);
            let api: Arc<dyn BookingApi> = module.service.clone();
            grpc_booking = Some(api.clone());
            Some(BookingClient::new(api))
        } else if local.contains(&Target::Gateway) && config.booking.endpoint.is_empty() {
            // A gateway without bookings (search only): the booking routes answer 503.
            None
        } else if local.contains(&Target::Gateway) {
            let remote =
                BookingGrpcClient::connect(&config.booking.endpoint, config.booking.calls.clone())
                    .await
                    .context("booking.endpoint")?;
            readiness.add(
                "booking",
                remote_health_check(
                    &config.booking.endpoint,
                    innkeeper_booking::grpc::SERVICE_NAME,
                )?,
            );
            Some(BookingClient::new(Arc::new(remote)))
        } else {
            None
        };

        if let Some((module, db)) = &local_payment
            && !options.one_shot
        {
            start_payment_consumers(
                &mut supervisor,
                &config.events,
                db,
                module,
                booking_bus.as_ref(),
            )
            .await?;
        }

        // Token verification: the local issuer's keys come from identity (in-process or over
        // gRPC, the verifier cannot tell), external issuers' from their JWKS URLs.
        let verifier = Arc::new(
            Verifier::from_settings(
                &config.auth,
                innkeeper_identity::verification::key_source(identity.clone()),
                options.clock.clone(),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("auth")?,
        );
        supervisor.spawn(
            "auth.key_refresher",
            refresh_keys(
                verifier.clone(),
                Duration::from_secs(config.auth.jwks_max_age_seconds),
                supervisor.shutdown_token(),
            ),
        );

        // Gateway: the public REST API, on this node's HTTP listener.
        let mut http_router = Router::new();
        if local.contains(&Target::Gateway) {
            let settings = innkeeper_gateway::GatewaySettings {
                max_body_bytes: config.gateway.max_body_bytes,
                max_guests: config.gateway.max_guests,
                max_nights: config.catalog.max_nights,
                request_timeout: Duration::from_millis(config.gateway.request_timeout_ms),
                rate_limit: config.gateway.rate_limit.clone(),
                trusted_proxies: config.gateway.trusted_proxies.clone(),
                client_ip_header: config.gateway.client_ip_header,
                clock: options.clock.clone(),
            };
            let upstream = innkeeper_gateway::Upstream {
                catalog: catalog.clone(),
                identity: identity.clone(),
                booking: booking.clone(),
                payment: payment.clone(),
                verifier: verifier.clone(),
            };
            http_router = http_router.merge(innkeeper_gateway::router(upstream, settings));
        }
        // The card processor imitation: its own API, checkout page and admin, under /provider.
        if local.contains(&Target::PaymentProvider) {
            let db = connect(
                config,
                &config.payment_provider_database_url(),
                config.payment_provider.max_connections,
                "payment_provider.database_url",
            )
            .await?;
            let mut settings = config
                .payment_provider
                .settings()
                .map_err(|problems| anyhow::anyhow!(problems.join("; ")))?;
            if local.contains(&Target::Payment) {
                // The payment service runs here: its webhook is this node's.
                let url = format!("{own_url}{}", innkeeper_payment::WEBHOOK_PATH);
                settings.webhooks.url = Some(
                    url.parse()
                        .with_context(|| format!("node.listen: webhook URL {url}"))?,
                );
            }
            let provider = PaymentProviderModule::start(&db, options.clock.clone(), settings)
                .await
                .context("starting the payment provider")?;
            readiness.add("payment_provider_database", database_check(&db));
            if !options.one_shot {
                supervisor.spawn(
                    "payment_provider.webhooks",
                    provider
                        .clone()
                        .run_webhook_worker(supervisor.shutdown_token()),
                );
            }
            http_router = http_router.nest("/provider", provider.router());
            databases.push(db);
        }
        // The provider's webhook: outside the gateway's bearer authentication (it is
        // authenticated by its signature), so it works on a node without the gateway too.
        if let Some((module, db)) = local_payment {
            http_router = http_router.merge(module.webhook_router());
            databases.push(db);
        }
        let http_router = http_router
            .merge(operations_router(readiness))
            .layer(axum::middleware::from_fn(track_requests));

        // The gRPC services verify their callers' tokens again with the same verifier.
        let grpc_services = GrpcServices {
            catalog: grpc_catalog,
            identity: grpc_identity,
            booking: grpc_booking,
            payment: grpc_payment,
            verifier: verifier.clone(),
        };
        let grpc = if grpc_services.is_empty() || config.node.grpc_listen.is_empty() {
            None
        } else {
            let addr: SocketAddr = config
                .node
                .grpc_listen
                .parse()
                .context("node.grpc_listen")?;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("node.grpc_listen: cannot listen on {addr}"))?;
            Some((listener, grpc_services))
        };
        Ok(Node {
            supervisor,
            http_listener,
            http_router,
            grpc,
            catalog,
            local_catalog,
            identity,
            local_identity,
            booking,
            runs_booking,
            payment,
            grace: Duration::from_secs(config.node.shutdown_grace_seconds),
            databases,
            catalog_bus,
        })
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The bound gRPC address, if this node serves gRPC.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The catalog as this node reaches it (local or remote).
    pub fn catalog(&self) -> CatalogClient {
        self.catalog.clone()
    }

    /// Identity as this node reaches it (local or remote).
    pub fn identity(&self) -> IdentityClient {
        self.identity.clone()
    }

    /// The in-process identity service (for demo seeding), if it runs here.
    pub fn local_identity(&self) -> Option<&IdentityModule> {
        self.local_identity.as_ref()
    }

    /// The in-process bus of the catalog's events, when the catalog runs here and
    /// `events.transport` is `bus`: consumers in this process subscribe to it.
    pub fn catalog_bus(&self) -> Option<&Bus> {
        self.catalog_bus.as_ref()
    }

    /// The booking service as this node's gateway reaches it: the in-process service when the
    /// booking target runs here ([`Node::runs_booking`]), else, on a node with the gateway, the
    /// remote client of `booking.endpoint` (gRPC); `None` on a node that runs neither (nothing
    /// there calls bookings).
    pub fn booking(&self) -> Option<BookingClient> {
        self.booking.clone()
    }

    /// The payment service as this node reaches it: the in-process service when the payment
    /// target runs here, else, on a node with bookings or the gateway, the remote client of
    /// `payment.endpoint` (gRPC) when one is set; `None` otherwise.
    pub fn payment(&self) -> Option<PaymentClient> {
        self.payment.clone()
    }

    /// Whether the booking service runs in this process.
    pub fn runs_booking(&self) -> bool {
        self.runs_booking
    }

    /// Whether the catalog runs in this process.
    pub fn runs_catalog(&self) -> bool {
        self.local_catalog.is_some()
    }

    /// Serves until `stop` completes or a critical task fails, then drains.
    pub async fn run_until_stopped(
        mut self,
        stop: impl std::future::Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let token = self.supervisor.shutdown_token();
        let http_token = token.clone();
        let router = self.http_router;
        let listener = self.http_listener;
        self.supervisor.spawn("http", async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { http_token.cancelled().await })
            .await
            .context("HTTP server")
        });
        if let Some((listener, services)) = self.grpc {
            let grpc_token = token.clone();
            self.supervisor.spawn(
                "grpc",
                async move { services.serve(listener, grpc_token).await },
            );
        }
        let result = self.supervisor.run_until(stop, self.grace).await;
        for db in &self.databases {
            db.close().await;
        }
        result
    }
}

/// Refetches the verifier's keys every `every`, so a withdrawn key stops being accepted without
/// a token of a new key to reveal it. A failed fetch keeps the keys and is retried next time.
async fn refresh_keys(
    verifier: Arc<Verifier>,
    every: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate: the keys were just fetched or never used
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        if let Err(err) = verifier.refresh_keys().await {
            tracing::warn!(error = %err, "refreshing signing keys failed; keeping the cached ones");
        }
    }
}
