//! `Node::build` runs bookings in the embedded shape: the booking database is part of the
//! node's readiness, and the hold-expiry consumer reads the catalog's outbox across databases
//! (an unpaid booking whose hold lapses becomes `expired`). Payment in the booking's node with
//! the provider in another process: the booking node's own webhook route confirms bookings.

use std::time::{Duration, Instant};

use innkeeper_booking::api::{BookingStatus, NewBooking};
use innkeeper_catalog::api::HotelQuery;
use innkeeper_kernel::{Clock as _, Principal, Role, SystemClock, UserId};
use innkeeper_platform::testing::TempDir;
use innkeeper_runtime::{Config, Node, NodeOptions};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn config(dir: &TempDir, more: &[(&'static str, serde_json::Value)]) -> Config {
    let mut overrides = vec![
        ("node.data_dir", json!(dir.path)),
        ("node.listen", json!("127.0.0.1:0")),
        ("node.grpc_listen", json!("")),
    ];
    overrides.extend_from_slice(more);
    Config::load(None, &overrides).expect("config")
}

/// `GET path` over a plain HTTP/1.1 connection; the body as JSON.
async fn get_json(addr: std::net::SocketAddr, path: &str) -> serde_json::Value {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (_, body) = response.split_once("\r\n\r\n").expect("a body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_node_runs_bookings_and_expires_unpaid_ones_from_catalog_events() {
    let dir = TempDir::new("runtime_booking");
    let config = config(
        &dir,
        &[
            ("booking.hold_ttl_seconds", json!(1)),
            ("catalog.hold_sweep_interval_ms", json!(50)),
            ("events.poll_interval_ms", json!(20)),
        ],
    );
    let node = Node::build(&config, NodeOptions::default())
        .await
        .expect("node");
    let booking = node.booking().expect("`all` runs bookings");
    let catalog = node.catalog();
    let addr = node.http_addr();
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    let serving = tokio::spawn(node.run_until_stopped(async move { stopped.cancelled().await }));

    let ready = get_json(addr, "/health/ready").await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"]["booking_database"], "up", "{ready}");

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
    let guest = Principal {
        user_id: UserId::new(),
        role: Role::Guest,
    };
    let check_in = SystemClock.today() + time::Duration::days(20);
    let created = booking
        .create(
            &guest,
            NewBooking {
                hotel_id: hotel,
                room_type_id: room_type,
                check_in,
                check_out: check_in + time::Duration::days(2),
                guests: 1,
                rooms: None,
                guest_name: "Ana Lima".to_owned(),
                guest_email: None,
                special_requests: None,
            },
            None,
        )
        .await
        .result
        .expect("booked");
    assert_eq!(created.status, BookingStatus::PendingPayment);

    // The catalog expires the hold after a second; its event reaches the booking consumer.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = booking.get(&guest, created.id).await.expect("booking");
        if now.status == BookingStatus::Expired {
            break;
        }
        assert!(Instant::now() < deadline, "never expired: {:?}", now.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    serving.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn a_booking_node_that_reaches_the_catalog_remotely_needs_the_service_secret() {
    let dir = TempDir::new("runtime_booking_secret");
    let remote = |secret: &str| {
        config(
            &dir,
            &[
                ("node.targets", json!(["booking"])),
                ("catalog.endpoint", json!("http://127.0.0.1:1")),
                ("identity.endpoint", json!("http://127.0.0.1:1")),
                ("auth.service_secret", json!(secret)),
            ],
        )
    };
    let error = Node::build(&remote(""), NodeOptions::default())
        .await
        .expect_err("no secret, no remote holds");
    let message = format!("{error:#}");
    assert!(message.contains("auth.service_secret"), "{message}");

    // With the secret it starts (tokens are fetched when the first hold is placed).
    let node = Node::build(&remote("a shared secret"), NodeOptions::default())
        .await
        .expect("node");
    assert!(node.booking().is_some());
}

#[tokio::test]
async fn a_booking_node_that_reaches_payments_remotely_needs_the_service_secret() {
    let dir = TempDir::new("runtime_booking_payment_secret");
    // The catalog runs here: only the payment service is remote.
    let remote = |secret: &str| {
        config(
            &dir,
            &[
                ("node.targets", json!(["booking", "catalog"])),
                ("identity.endpoint", json!("http://127.0.0.1:1")),
                ("payment.endpoint", json!("http://127.0.0.1:1")),
                ("auth.service_secret", json!(secret)),
            ],
        )
    };
    let error = Node::build(&remote(""), NodeOptions::default())
        .await
        .expect_err("no secret, no remote payments");
    let message = format!("{error:#}");
    assert!(message.contains("auth.service_secret"), "{message}");

    // With the secret it starts, bookings and their payments reached remotely.
    let node = Node::build(&remote("a shared secret"), NodeOptions::default())
        .await
        .expect("node");
    assert!(node.booking().is_some());
    assert!(node.payment().is_some(), "a remote payment client");
}

/// A free port of 127.0.0.1 (taken and given back: the node binds it next).
fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
}

/// Payment and the provider in two processes: the booking node (no gateway) calls the
/// provider at `payment.provider_url`, and the provider's signed webhook reaches the booking
/// node's own `/api/v1/payments/webhook`, outside any bearer authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_in_the_booking_node_and_the_provider_in_another() {
    let dir = TempDir::new("runtime_payment_split");
    let (booking_addr, provider_addr) = (free_addr(), free_addr());
    let provider_config = Config::load(
        None,
        &[
            ("node.targets", json!(["payment-provider"])),
            ("node.data_dir", json!(dir.path.join("provider"))),
            ("node.listen", json!(provider_addr.to_string())),
            ("node.grpc_listen", json!("")),
            (
                "payment_provider.public_url",
                json!(format!("http://{provider_addr}/provider")),
            ),
            (
                "payment_provider.webhook_url",
                json!(format!("http://{booking_addr}/api/v1/payments/webhook")),
            ),
            ("payment_provider.webhook_poll_interval_ms", json!(20)),
        ],
    )
    .expect("provider config");
    let booking_config = Config::load(
        None,
        &[
            (
                "node.targets",
                json!(["catalog", "identity", "booking", "payment"]),
            ),
            ("node.data_dir", json!(dir.path.join("booking"))),
            ("node.listen", json!(booking_addr.to_string())),
            ("node.grpc_listen", json!("")),
            (
                "payment.provider_url",
                json!(format!("http://{provider_addr}/provider")),
            ),
            ("events.poll_interval_ms", json!(10)),
        ],
    )
    .expect("booking config");
    let stop = tokio_util::sync::CancellationToken::new();
    let mut serving = Vec::new();
    let provider = Node::build(&provider_config, NodeOptions::default())
        .await
        .expect("provider node");
    let node = Node::build(&booking_config, NodeOptions::default())
        .await
        .expect("booking node");
    let booking = node.booking().expect("bookings run here");
    let catalog = node.catalog();
    for node in [provider, node] {
        let stopped = stop.clone();
        serving.push(tokio::spawn(
            node.run_until_stopped(async move { stopped.cancelled().await }),
        ));
    }
    let ready = get_json(booking_addr, "/health/ready").await;
    assert_eq!(ready["checks"]["payment_database"], "up", "{ready}");

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
    let guest = Principal {
        user_id: UserId::new(),
        role: Role::Guest,
    };
    let check_in = SystemClock.today() + time::Duration::days(30);
    let created = booking
        .create(
            &guest,
            NewBooking {
                hotel_id: hotel,
                room_type_id: room_type,
                check_in,
                // Two nights: the demo rates ask for two around New Year (today + 30 days
                // falls on 31 December when the test runs on 1 December).
                check_out: check_in + time::Duration::days(2),
                guests: 1,
                rooms: None,
                guest_name: "Ana Lima".to_owned(),
                guest_email: None,
                special_requests: None,
            },
            None,
        )
        .await
        .result
        .expect("booked");
    let checkout = created
        .payment
        .checkout_url
        .clone()
        .expect("a checkout link");
    assert!(
        checkout.starts_with(&format!("http://{provider_addr}/provider/checkout/pi_")),
        "{checkout}"
    );
    let intent = checkout.rsplit('/').next().expect("id");
    let paid = reqwest::Client::new()
        .post(format!(
            "http://{provider_addr}/provider/v1/payment_intents/{intent}/confirm"
        ))
        .bearer_auth("sk_test_innkeeper_development_only")
        .json(&json!({"payment_method": "pm_card_visa"}))
        .send()
        .await
        .expect("confirm");
    assert_eq!(paid.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = booking.get(&guest, created.id).await.expect("booking");
        if now.status == BookingStatus::Confirmed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never confirmed: {:?}",
            now.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    for serving in serving {
        serving.await.expect("join").expect("clean stop");
    }
}

#[tokio::test]
async fn a_gateway_without_a_booking_endpoint_is_ready_without_one() {
    let dir = TempDir::new("runtime_search_only_gateway");
    let config = config(
        &dir,
        &[
            ("node.targets", json!(["gateway", "catalog", "identity"])),
            ("booking.endpoint", json!("")),
        ],
    );
    let node = Node::build(&config, NodeOptions::default())
        .await
        .expect("node");
    assert!(node.booking().is_none());
    let addr = node.http_addr();
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    let serving = tokio::spawn(node.run_until_stopped(async move { stopped.cancelled().await }));

    let ready = get_json(addr, "/health/ready").await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["checks"].get("booking").is_none(), "{ready}");

    stop.cancel();
    serving.await.expect("join").expect("stopped");
}

#[tokio::test]
async fn a_node_calls_a_remote_catalog_as_catalog_calls_says() {
    use innkeeper_kernel::HotelId;
    use innkeeper_platform::resilience::is_rejected;

    // Nobody serves the catalog: every call that reaches for it fails `unavailable`.
    let gateway = |dir: &TempDir, calls: &[(&'static str, serde_json::Value)]| {
        let mut more = vec![
            ("node.targets", json!(["gateway", "identity"])),
            ("catalog.endpoint", json!("http://127.0.0.1:1")),
            ("booking.endpoint", json!("")),
        ];
        more.extend_from_slice(calls);
        config(dir, &more)
    };
    let two_calls = |config: Config| async move {
        let node = Node::build(&config, NodeOptions::default())
            .await
            .expect("node");
        let catalog = node.catalog();
        let first = catalog.get_hotel(HotelId::new()).await.expect_err("down");
        let second = catalog.get_hotel(HotelId::new()).await.expect_err("down");
        (first, second)
    };

    // One attempt a call. By default the breaker opens after five failures in a row: both
    // calls reach out.
    let once = ("catalog.calls.max_attempts", json!(1));
    let dir = TempDir::new("runtime_catalog_calls_default");
    let (first, second) = two_calls(gateway(&dir, std::slice::from_ref(&once))).await;
    assert!(!is_rejected(&first) && !is_rejected(&second), "{second:?}");

    // `[catalog.calls.breaker]` opens it after one: the second call fails at once.
    let dir = TempDir::new("runtime_catalog_calls_configured");
    let config = gateway(
        &dir,
        &[
            once,
            ("catalog.calls.breaker.consecutive_failures", json!(1)),
            ("catalog.calls.breaker.open_ms", json!(60_000)),
        ],
    );
    let (first, second) = two_calls(config).await;
    assert!(!is_rejected(&first), "{first:?}");
    assert!(is_rejected(&second), "{second:?}");
}
