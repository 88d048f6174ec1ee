//! End to end: the real `innkeeper` binary, driven over HTTP like a user would, in every shape.
//!
//! The same scenarios (a hotelier sets up a hotel and a guest finds it; a guest books, reads,
//! cancels and repeats keyed requests) run against
//! - the embedded shape (`innkeeper up`: every service in one process, SQLite),
//! - the split shape (`innkeeper serve --target identity`, `--target catalog`,
//!   `--target booking` and `--target gateway` as four processes talking gRPC; the booking
//!   service reaches the catalog over gRPC too), on SQLite and on PostgreSQL.
//!
//! The embedded shape also pays: the booking's `payment.checkout_url` is the provider
//! imitation's page on the same listener, a payment there confirms the booking. The four
//! process split shape runs no payment service: its bookings are made without a checkout link
//! and wait unpaid. The split shape with payments adds the payment service and the provider
//! imitation as processes of their own (six in all, each service on its own PostgreSQL
//! database, events over Kafka): the booking service opens payments over gRPC, the provider's
//! webhook reaches the payment process, and the payment events confirm, cancel and refund
//! bookings through the broker.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use innkeeper_platform::testing::{TempDir, TestDatabase};
use serde_json::{Value, json};
use time::OffsetDateTime;

use support::{
    BIN, PROVIDER_KEY, PaymentShape, account, bearer, free_addr, serve, spawn, wait_ready,
};

/// The scenario every shape must pass: a hotelier sets up a hotel, a guest finds it.
async fn hotelier_sets_up_a_hotel_and_a_guest_finds_it(base: &str) {
    let anonymous = reqwest::Client::new();
    let api = format!("{base}/api/v1");

    // A hotelier opens an account and logs in; every write carries the access token.
    let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "a long hotelier passphrase 1";
    let resp = anonymous
        .post(format!("{api}/auth/register"))
        .json(&json!({"email": email, "password": password, "name": "Olga Owner", "role": "hotelier"}))
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 201);
    let anonymous_write = anonymous
        .post(format!("{api}/hotels"))
        .json(&json!({}))
        .send()
        .await
        .expect("anonymous write");
    assert_eq!(anonymous_write.status(), 401);
    let tokens: Value = anonymous
        .post(format!("{api}/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let access = tokens["access_token"].as_str().expect("access token");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {access}").parse().expect("header"),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    let me: Value = http
        .get(format!("{api}/me"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["email"], email.as_str());
    let today = OffsetDateTime::now_utc().date();
    let check_in = today + time::Duration::days(20);
    let check_out = check_in + time::Duration::days(3);
    let city = format!("Testville-{}", uuid::Uuid::new_v4().simple());

    let resp = http
        .post(format!("{api}/hotels"))
        .json(&json!({
            "name": "Hotel Miradouro", "address": "Rua da Graça 12", "city": city, "country": "PT",
            "location": {"lat": 38.7167, "lon": -9.1300}, "stars": 4, "currency": "EUR"
        }))
        .send()
        .await
        .expect("create hotel");
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["etag"], "\"1\"");
    let hotel: Value = resp.json().await.expect("json");
    let hotel_id = hotel["id"].as_str().expect("id").to_owned();

    let rt: Value = http
        .post(format!("{api}/hotels/{hotel_id}/room-types"))
        .json(&json!({"name": "Double with view", "capacity": 2, "beds": [{"kind": "double", "count": 1}],
                      "amenities": ["wifi"], "base_price": {"amount": 12000, "currency": "EUR"}}))
        .send()
        .await
        .expect("create room type")
        .json()
        .await
        .expect("json");
    let rt_id = rt["id"].as_str().expect("room type id").to_owned();
    for number in ["101", "102"] {
        let resp = http
            .post(format!("{api}/hotels/{hotel_id}/rooms"))
            .json(&json!({"number": number, "floor": 1, "room_type_id": rt_id}))
            .send()
            .await
            .expect("create room");
        assert_eq!(resp.status(), 201);
    }
    // A seasonal price on the middle night.
    let mid = check_in + time::Duration::days(1);
    let resp = http
        .put(format!("{api}/hotels/{hotel_id}/room-types/{rt_id}/rates"))
        .json(
            &json!({"from": mid.to_string(), "to": (mid + time::Duration::days(1)).to_string(),
                      "price": {"amount": 15000, "currency": "EUR"}}),
        )
        .send()
        .await
        .expect("set rate");
    assert_eq!(resp.status(), 200);

    let offers: Value = http
        .get(format!(
            "{api}/availability?city={city}&check_in={check_in}&check_out={check_out}&guests=2"
        ))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    let items = offers.as_array().expect("offers list");
    assert_eq!(items.len(), 1, "{offers}");
    let offer = &items[0];
    let prices: Vec<i64> = offer["nights"]
        .as_array()
        .expect("nights")
        .iter()
        .map(|n| n["price"]["amount"].as_i64().expect("amount"))
        .collect();
    assert_eq!(prices, vec![12000, 15000, 12000]);
    assert_eq!(offer["total"], json!({"amount": 39000, "currency": "EUR"}));
    assert_eq!(offer["rooms_left"], 2);

    // Three guests do not fit in one double.
    let offers: Value = http
        .get(format!(
            "{api}/availability?city={city}&check_in={check_in}&check_out={check_out}&guests=3"
        ))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    let items = offers.as_array().expect("offers list");
    assert!(items.is_empty(), "{offers}");

    // Bad input is a problem document naming the field, in every shape.
    let resp = http
        .get(format!(
            "{api}/availability?city={city}&check_in={check_out}&check_out={check_in}&guests=2"
        ))
        .send()
        .await
        .expect("search");
    assert_eq!(resp.status(), 422);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let problem: Value = resp.json().await.expect("json");
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "check_out");

    // Optimistic concurrency crosses the wire intact.
    let resp = http
        .patch(format!("{api}/hotels/{hotel_id}"))
        .header("if-match", "\"7\"")
        .json(&json!({"stars": 5}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), 412);
    let problem: Value = resp.json().await.expect("json");
    assert_eq!(problem["code"], "version_mismatch");
    let resp = http
        .patch(format!("{api}/hotels/{hotel_id}"))
        .header("if-match", "\"1\"")
        .json(&json!({"stars": 5}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], "\"2\"");

    // Unknown ids are 404 problems.
    let resp = http
        .get(format!("{api}/hotels/{}", uuid::Uuid::now_v7()))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    // The operations endpoints answer.
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("innkeeper_http_requests_total"),
        "{metrics}"
    );
    let docs = http
        .get(format!("{base}/docs/"))
        .send()
        .await
        .expect("docs");
    assert_eq!(docs.status(), 200);
    let openapi: Value = http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert!(
        openapi["paths"]["/api/v1/availability"].is_object(),
        "openapi lists /api/v1/availability"
    );
}

#[tokio::test]
async fn embedded_shape_serves_the_demo_and_the_scenario() {
    let dir = TempDir::new("e2e_up");
    let addr = free_addr();
    let data = dir.path.join("data");
    let _up = spawn(
        &[
            "up",
            "--data-dir",
            data.to_str().expect("utf8"),
            "--listen",
            &addr.to_string(),
        ],
        &[],
        &dir.path,
    );
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;

    // The demo is there: Lisbon has offers with per-night prices.
    let today = OffsetDateTime::now_utc().date();
    let check_in = today + time::Duration::days(30);
    let check_out = check_in + time::Duration::days(2);
    let offers: Value = http
        .get(format!("{base}/api/v1/availability?city=Lisbon&check_in={check_in}&check_out={check_out}&guests=2"))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    let items = offers.as_array().expect("offers list");
    assert!(items.len() >= 3, "the demo has offers in Lisbon: {offers}");
    assert_eq!(items[0]["nights"].as_array().map(Vec::len), Some(2));

    // The demo logins `up` prints work (their tokens pay below: more sign-ups and logins
    // would meet the rate limit).
    let mut demo = Vec::new();
    for email in ["guest@innkeeper.test", "hotelier@innkeeper.test"] {
        let resp = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": email, "password": "innkeeper-demo-2026"}))
            .send()
            .await
            .expect("login");
        assert_eq!(resp.status(), 200, "{email}");
        let tokens: Value = resp.json().await.expect("json");
        demo.push(bearer(
            tokens["access_token"].as_str().expect("access token"),
        ));
    }

    hotelier_sets_up_a_hotel_and_a_guest_finds_it(&base).await;
    a_guest_books_cancels_and_repeats_keyed_requests(&base).await;
    a_guest_pays_at_the_provider_and_the_booking_is_confirmed(&base, &demo[0], &demo[1]).await;
}

/// The payment saga in one process: book, open the checkout link, pay with the provider's
/// test card through its API, and the provider's webhook confirms the booking.
async fn a_guest_pays_at_the_provider_and_the_booking_is_confirmed(
    base: &str,
    guest: &reqwest::Client,
    hotelier: &reqwest::Client,
) {
    let api = format!("{base}/api/v1");
    let hotel: Value = hotelier
        .post(format!("{api}/hotels"))
        .json(&json!({
            "name": "Hotel Pago", "address": "Rua do Ouro 3", "city": "Lisbon",
            "country": "PT", "location": {"lat": 38.71, "lon": -9.14}, "currency": "EUR"
        }))
        .send()
        .await
        .expect("create hotel")
        .json()
        .await
        .expect("json");
    let hotel_id = hotel["id"].as_str().expect("id").to_owned();
    let room_type: Value = hotelier
        .post(format!("{api}/hotels/{hotel_id}/room-types"))
        .json(&json!({"name": "Single", "capacity": 1, "base_price": {"amount": 8000, "currency": "EUR"}}))
        .send()
        .await
        .expect("room type")
        .json()
        .await
        .expect("json");
    let room_type_id = room_type["id"].as_str().expect("id").to_owned();
    let resp = hotelier
        .post(format!("{api}/hotels/{hotel_id}/rooms"))
        .json(&json!({"number": "1", "floor": 0, "room_type_id": room_type_id}))
        .send()
        .await
        .expect("room");
    assert_eq!(resp.status(), 201);
    let check_in = OffsetDateTime::now_utc().date() + time::Duration::days(25);
    let resp = guest
        .post(format!("{api}/bookings"))
        .json(&json!({
            "hotel_id": hotel_id, "room_type_id": room_type_id, "check_in": check_in.to_string(),
            "check_out": (check_in + time::Duration::days(1)).to_string(), "guests": 1,
            "guest_name": "Paula Payer"
        }))
        .send()
        .await
        .expect("book");
    assert_eq!(resp.status(), 201);
    let booking: Value = resp.json().await.expect("json");
    let id = booking["id"].as_str().expect("id").to_owned();
    let checkout = booking["payment"]["checkout_url"]
        .as_str()
        .unwrap_or_else(|| panic!("a checkout link: {booking}"))
        .to_owned();
    assert!(
        checkout.starts_with(&format!("{base}/provider/checkout/pi_")),
        "{checkout}"
    );
    // The hosted checkout page is there for the guest's browser.
    let page = reqwest::get(&checkout).await.expect("checkout page");
    assert_eq!(page.status(), 200);
    let intent = checkout.rsplit('/').next().expect("intent id");
    let resp = reqwest::Client::new()
        .post(format!(
            "{base}/provider/v1/payment_intents/{intent}/confirm"
        ))
        .bearer_auth("sk_test_innkeeper_development_only")
        .json(&json!({"payment_method": "pm_card_visa"}))
        .send()
        .await
        .expect("confirm");
    assert_eq!(resp.status(), 200);
    let read = booking_when(guest, &api, &id, |b| b["status"] == "confirmed").await;
    assert_eq!(read["payment"]["status"], "paid", "{read}");
}

/// The split shape: identity, catalog, booking and gateway as four processes over gRPC. The
/// gateway reaches every service over gRPC; the booking service reaches the catalog over gRPC
/// (events stay on each process's in-process bus: nothing here needs another's).
async fn split_shape(catalog_db_url: String, identity_db_url: String, booking_db_url: String) {
    let dir = TempDir::new("e2e_split");
    let (identity_http, identity_grpc) = (free_addr(), free_addr());
    let (catalog_http, catalog_grpc) = (free_addr(), free_addr());
    let (booking_http, booking_grpc, gateway_http) = (free_addr(), free_addr(), free_addr());
    let identity_endpoint = (
        "INNKEEPER__IDENTITY__ENDPOINT",
        format!("http://{identity_grpc}"),
    );
    let catalog_endpoint = (
        "INNKEEPER__CATALOG__ENDPOINT",
        format!("http://{catalog_grpc}"),
    );
    let serve =
        |target: &str, http: SocketAddr, grpc: Option<SocketAddr>, env: &[(&str, String)]| {
            serve(&dir.path, target, http, grpc, env)
        };
    // The booking service obtains its service token from identity with the shared secret.
    let service_secret = (
        "INNKEEPER__AUTH__SERVICE_SECRET",
        "e2e-service-secret".to_owned(),
    );
    let _identity = serve(
        "identity",
        identity_http,
        Some(identity_grpc),
        &[
            ("INNKEEPER__IDENTITY__DATABASE_URL", identity_db_url),
            service_secret.clone(),
        ],
    );
    let _catalog = serve(
        "catalog",
        catalog_http,
        Some(catalog_grpc),
        &[
            ("INNKEEPER__CATALOG__DATABASE_URL", catalog_db_url),
            identity_endpoint.clone(),
        ],
    );
    let _booking = serve(
        "booking",
        booking_http,
        Some(booking_grpc),
        &[
            ("INNKEEPER__BOOKING__DATABASE_URL", booking_db_url),
            catalog_endpoint.clone(),
            identity_endpoint.clone(),
            service_secret,
        ],
    );
    let _gateway = serve(
        "gateway",
        gateway_http,
        None,
        &[
            catalog_endpoint,
            identity_endpoint,
            (
                "INNKEEPER__BOOKING__ENDPOINT",
                format!("http://{booking_grpc}"),
            ),
        ],
    );
    let http = reqwest::Client::new();
    for addr in [identity_http, catalog_http, booking_http, gateway_http] {
        wait_ready(&http, &format!("http://{addr}")).await;
    }
    // The gateway counts each remote service in its readiness, the booking node the catalog.
    for (addr, checks) in [
        (gateway_http, &["catalog", "identity", "booking"][..]),
        (booking_http, &["catalog", "booking_database"][..]),
    ] {
        let ready: Value = http
            .get(format!("http://{addr}/health/ready"))
            .send()
            .await
            .expect("ready")
            .json()
            .await
            .expect("json");
        for check in checks {
            assert_eq!(ready["checks"][check], "up", "{check}: {ready}");
        }
    }
    let base = format!("http://{gateway_http}");
    hotelier_sets_up_a_hotel_and_a_guest_finds_it(&base).await;
    a_guest_books_cancels_and_repeats_keyed_requests(&base).await;
    // The gateway really went over gRPC: each service's process counted the calls.
    for (service, addr, method) in [
        (
            "catalog",
            catalog_http,
            "/innkeeper.catalog.v1.CatalogService/CreateHotel",
        ),
        (
            "identity",
            identity_http,
            "/innkeeper.identity.v1.IdentityService/Login",
        ),
        (
            "booking",
            booking_http,
            "/innkeeper.booking.v1.BookingService/CreateBooking",
        ),
    ] {
        let metrics = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        assert!(
            metrics.contains("innkeeper_grpc_requests_total") && metrics.contains(method),
            "{service} served gRPC"
        );
    }
}

#[tokio::test]
async fn split_shape_over_grpc_on_sqlite() {
    let dir = TempDir::new("e2e_split_db");
    let url = |file: &str| format!("sqlite://{}/{file}", dir.path.display());
    split_shape(url("catalog.db"), url("identity.db"), url("booking.db")).await;
}

#[tokio::test]
async fn split_shape_over_grpc_on_postgres() {
    let Some(catalog) = TestDatabase::postgres().await else {
        return;
    };
    let Some(identity) = TestDatabase::postgres().await else {
        return;
    };
    let Some(booking) = TestDatabase::postgres().await else {
        return;
    };
    split_shape(
        catalog.url.clone(),
        identity.url.clone(),
        booking.url.clone(),
    )
    .await;
}

/// The booking scenario every shape must pass: a guest books a stay through the REST edge,
/// reads it back, repeats requests with their `Idempotency-Key` (successes and failures are
/// answered as stored, marked `Idempotency-Replayed: true`), and cancels, which frees the room.
async fn a_guest_books_cancels_and_repeats_keyed_requests(base: &str) {
    let api = format!("{base}/api/v1");
    let http = reqwest::Client::new();
    // A hotelier opens a hotel with two double rooms.
    let hotelier = account(&api, "hotelier").await;
    let resp = hotelier
        .post(format!("{api}/hotels"))
        .json(&json!({
            "name": "Hotel Miradouro", "address": "Rua da Graça 12", "city": "Lisbon",
            "country": "PT", "location": {"lat": 38.7167, "lon": -9.1300}, "currency": "EUR"
        }))
        .send()
        .await
        .expect("create hotel");
    assert_eq!(resp.status(), 201);
    let hotel: Value = resp.json().await.expect("json");
    let hotel_id = hotel["id"].as_str().expect("id").to_owned();
    let resp = hotelier
        .post(format!("{api}/hotels/{hotel_id}/room-types"))
        .json(
            &json!({"name": "Double", "capacity": 2, "beds": [{"kind": "double", "count": 1}],
                      "base_price": {"amount": 12000, "currency": "EUR"}}),
        )
        .send()
        .await
        .expect("create room type");
    assert_eq!(resp.status(), 201);
    let room_type: Value = resp.json().await.expect("json");
    let room_type_id = room_type["id"].as_str().expect("id").to_owned();
    for number in ["101", "102"] {
        let resp = hotelier
            .post(format!("{api}/hotels/{hotel_id}/rooms"))
            .json(&json!({"number": number, "floor": 1, "room_type_id": room_type_id}))
            .send()
            .await
            .expect("create room");
        assert_eq!(resp.status(), 201);
    }

    // A guest books, with a key.
    let guest = account(&api, "guest").await;
    let check_in = OffsetDateTime::now_utc().date() + time::Duration::days(20);
    let stay = json!({
        "hotel_id": hotel_id, "room_type_id": room_type_id, "check_in": check_in.to_string(),
        "check_out": (check_in + time::Duration::days(2)).to_string(), "guests": 2,
        "guest_name": "Ana Lima", "guest_email": "ana@example.test"
    });
    let book = |body: &Value, key: &str| {
        guest
            .post(format!("{api}/bookings"))
            .header("idempotency-key", key)
            .json(body)
            .send()
    };
    let resp = book(&stay, "book-1").await.expect("book");
    assert_eq!(resp.status(), 201);
    assert!(resp.headers().get("idempotency-replayed").is_none());
    let etag = resp.headers()["etag"].clone();
    let booking: Value = resp.json().await.expect("json");
    assert_eq!(booking["status"], "pending_payment", "{booking}");
    assert_eq!(
        booking["price"]["total"],
        json!({"amount": 24000, "currency": "EUR"})
    );
    let id = booking["id"].as_str().expect("id").to_owned();

    // Read back through the gateway, and the repeat replays the same answer.
    let resp = guest
        .get(format!("{api}/bookings/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], etag);
    assert_eq!(resp.json::<Value>().await.expect("json"), booking);
    let resp = book(&stay, "book-1").await.expect("repeat");
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["idempotency-replayed"], "true");
    assert_eq!(resp.json::<Value>().await.expect("json"), booking);

    // A keyed failure is stored too: its repeat is the same problem, marked replayed.
    let mut crowd = stay.clone();
    crowd["rooms"] = json!(3);
    let first = book(&crowd, "crowd").await.expect("sold out");
    assert_eq!(first.status(), 409);
    assert!(first.headers().get("idempotency-replayed").is_none());
    let problem: Value = first.json().await.expect("json");
    assert_eq!(problem["code"], "sold_out", "{problem}");
    let again = book(&crowd, "crowd").await.expect("repeat");
    assert_eq!(again.status(), 409);
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.json::<Value>().await.expect("json"), problem);

    // Another guest does not see the booking; anonymous callers are refused.
    let other = account(&api, "guest").await;
    let resp = other
        .get(format!("{api}/bookings/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 404);
    let resp = http
        .get(format!("{api}/bookings/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 401);

    // The guest cancels; the rooms come back.
    let resp = guest
        .post(format!("{api}/bookings/{id}/cancel"))
        .header("if-match", etag)
        .json(&json!({"reason": "plans changed"}))
        .send()
        .await
        .expect("cancel");
    assert_eq!(resp.status(), 200);
    let cancelled: Value = resp.json().await.expect("json");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["refund"]["rule"], "nothing_paid", "{cancelled}");
    let resp = guest
        .get(format!("{api}/bookings/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        resp.json::<Value>().await.expect("json")["status"],
        "cancelled"
    );
    let history: Value = guest
        .get(format!("{api}/bookings/{id}/history"))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let types: Vec<&str> = history
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["created", "cancelled"], "{history}");
    let mut both = stay.clone();
    both["rooms"] = json!(2);
    let resp = book(&both, "both-rooms").await.expect("book both");
    assert_eq!(
        resp.status(),
        201,
        "the cancelled booking's room is free again"
    );
}

/// Runs a one-shot command to completion, `stdin` piped in; returns its standard output.
fn run(args: &[&str], data: &Path, stdin: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new(BIN)
        .args(args)
        .env("INNKEEPER__NODE__DATA_DIR", data)
        .env("INNKEEPER__TELEMETRY__LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn innkeeper");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "innkeeper {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Admins come only from the CLI (password on stdin, never a flag), and a key rotation made by
/// the CLI is picked up by a running server without a restart.
#[tokio::test]
async fn the_cli_creates_admins_and_rotates_keys_under_a_running_server() {
    let dir = TempDir::new("e2e_cli");
    let data = dir.path.join("data");
    let created = run(
        &[
            "admin",
            "create",
            "--email",
            "Root@Example.com",
            "--name",
            "Root",
        ],
        &data,
        "an admin passphrase 42\n",
    );
    assert!(
        created.contains("created admin root@example.com"),
        "{created}"
    );

    let addr = free_addr();
    let _up = spawn(
        &[
            "up",
            "--data-dir",
            data.to_str().expect("utf8"),
            "--listen",
            &addr.to_string(),
        ],
        &[],
        &dir.path,
    );
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    let login = || async {
        let tokens: Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": "root@example.com", "password": "an admin passphrase 42"}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        tokens["access_token"].as_str().expect("token").to_owned()
    };
    let me = |token: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.get(format!("{base}/api/v1/me"))
                .bearer_auth(token)
                .send()
                .await
                .expect("me")
        }
    };
    let before = login().await;
    let profile: Value = me(before.clone()).await.json().await.expect("json");
    assert_eq!(profile["role"], "admin");

    let rotated = run(&["keys", "rotate"], &data, "");
    assert!(rotated.contains("signing with key"), "{rotated}");
    let listed = run(&["keys", "list"], &data, "");
    assert_eq!(listed.lines().count(), 2, "{listed}");
    // Tokens of the new key verify at once; those of the old one until they expire.
    let after = login().await;
    assert_ne!(before, after);
    // The server refetches the local issuer's keys at most once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(me(after).await.status(), 200);
    assert_eq!(me(before).await.status(), 200);
}

/// The split shape with payments: identity, catalog, booking, payment, the provider imitation
/// and the gateway as six processes, each service on its own PostgreSQL database, events over
/// Kafka (tansu). The booking service opens payments at the payment service over gRPC under
/// its service credential; the gateway shows them over gRPC with the guest's token; the
/// provider (an external system here) takes the money and signs its webhook to the payment
/// process; `payment.*` and `booking.*` events cross processes through the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_shape_with_payments_over_grpc_and_kafka_on_postgres() {
    let Some(tansu) = innkeeper_events::testing::Tansu::start().await else {
        return;
    };
    let Some(databases) = support::payment_shape_databases().await else {
        return;
    };
    let dir = TempDir::new("e2e_split_payments");
    let shape = PaymentShape::start(&dir.path, &tansu, &databases, &[], &[]);
    let (gateway_http, booking_http, payment_http) =
        (shape.gateway_http, shape.booking_http, shape.payment_http);
    let provider_url = shape.provider_url.clone();
    let http = reqwest::Client::new();
    shape.wait_ready(&http).await;
    // The gateway and the booking node count the remote payment service in their readiness.
    for (addr, checks) in [
        (
            gateway_http,
            &["catalog", "identity", "booking", "payment"][..],
        ),
        (
            booking_http,
            &["catalog", "payment", "booking_database"][..],
        ),
        (payment_http, &["payment_database"][..]),
    ] {
        let ready: Value = http
            .get(format!("http://{addr}/health/ready"))
            .send()
            .await
            .expect("ready")
            .json()
            .await
            .expect("json");
        for check in checks {
            assert_eq!(ready["checks"][check], "up", "{check}: {ready}");
        }
    }

    let base = format!("http://{gateway_http}");
    a_guest_pays_is_declined_and_is_refunded_across_processes(&base, &provider_url).await;

    // The money crossed processes over gRPC: the payment process served the booking's
    // intents and the gateway's reads.
    let metrics = http
        .get(format!("http://{payment_http}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for method in [
        "/innkeeper.payment.v1.PaymentService/CreateIntent",
        "/innkeeper.payment.v1.PaymentService/GetPayment",
    ] {
        assert!(metrics.contains(method), "payment served {method}");
    }
    drop(tansu);
}

/// The journey of [`split_shape_with_payments_over_grpc_and_kafka_on_postgres`] through the
/// REST edge at `base` and the provider's own API at `provider`: a paid booking is confirmed,
/// a declined card cancels its booking and gives the rooms back, and cancelling the paid
/// booking refunds it, the refund recorded on the booking and at the provider.
async fn a_guest_pays_is_declined_and_is_refunded_across_processes(base: &str, provider: &str) {
    let api = format!("{base}/api/v1");
    let hotelier = account(&api, "hotelier").await;
    let (hotel_id, room_type_id) = support::hotel_with_rooms(
        &api,
        &hotelier,
        json!({
            "name": "Hotel Dividido", "address": "Rua Nova 7", "city": "Porto",
            "country": "PT", "location": {"lat": 41.15, "lon": -8.61}, "currency": "EUR"
        }),
        json!({"name": "Double", "capacity": 2, "base_price": {"amount": 11000, "currency": "EUR"}}),
        &["201", "202"],
    )
    .await;
    let check_in = OffsetDateTime::now_utc().date() + time::Duration::days(30);
    let check_out = check_in + time::Duration::days(2);
    let stay = json!({
        "hotel_id": hotel_id, "room_type_id": room_type_id, "check_in": check_in.to_string(),
        "check_out": check_out.to_string(), "guests": 2, "guest_name": "Ana Lima"
    });
    // `(held, sold)` of each night of the stay, as the hotelier reads them.
    let counters = || async {
        let nights: Value = hotelier
            .get(format!(
                "{api}/hotels/{hotel_id}/inventory?from={check_in}&to={check_out}"
            ))
            .send()
            .await
            .expect("inventory")
            .json()
            .await
            .expect("json");
        nights
            .as_array()
            .expect("nights")
            .iter()
            .map(|n| {
                (
                    n["held"].as_u64().expect("held"),
                    n["sold"].as_u64().expect("sold"),
                )
            })
            .collect::<Vec<_>>()
    };
    let provider_api = reqwest::Client::new();
    let pay = |checkout: &str, method: &str| {
        let intent = checkout.rsplit('/').next().expect("intent id").to_owned();
        provider_api
            .post(format!("{provider}/v1/payment_intents/{intent}/confirm"))
            .bearer_auth(PROVIDER_KEY)
            .json(&json!({"payment_method": method}))
            .send()
    };

    // Ana books: the booking service opened the payment at the payment process, the link is
    // the provider's checkout page.
    let (ana, bea) = (account(&api, "guest").await, account(&api, "guest").await);
    let resp = ana
        .post(format!("{api}/bookings"))
        .json(&stay)
        .send()
        .await
        .expect("book");
    assert_eq!(resp.status(), 201);
    let booking: Value = resp.json().await.expect("json");
    let id = booking["id"].as_str().expect("id").to_owned();
    assert_eq!(booking["status"], "pending_payment", "{booking}");
    let checkout = booking["payment"]["checkout_url"]
        .as_str()
        .unwrap_or_else(|| panic!("a checkout link: {booking}"))
        .to_owned();
    assert!(
        checkout.starts_with(&format!("{provider}/checkout/pi_")),
        "{checkout}"
    );
    let payment_id = booking["payment"]["payment_id"]
        .as_str()
        .expect("payment_id")
        .to_owned();
    assert_eq!(counters().await, vec![(1, 0), (1, 0)]);

    // The payment, through the gateway and the payment service's gRPC, to its guest only.
    let payment_url = format!("{api}/payments/{payment_id}");
    let resp = ana.get(&payment_url).send().await.expect("payment");
    assert_eq!(resp.status(), 200);
    let payment: Value = resp.json().await.expect("json");
    assert_eq!(payment["status"], "requires_payment", "{payment}");
    assert_eq!(payment["amount"], booking["price"]["total"]);
    assert_eq!(payment["booking_id"], id.as_str());
    let resp = bea.get(&payment_url).send().await.expect("payment");
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.expect("json")["code"],
        "not_found"
    );

    // The hosted checkout page is there for the guest's browser; paying confirms the booking.
    let page = reqwest::get(&checkout).await.expect("checkout page");
    assert_eq!(page.status(), 200);
    let paid = pay(&checkout, "pm_card_visa").await.expect("pay");
    assert_eq!(paid.status(), 200);
    let confirmed = booking_when(&ana, &api, &id, |b| b["status"] == "confirmed").await;
    assert_eq!(confirmed["payment"]["status"], "paid", "{confirmed}");
    assert_eq!(confirmed["paid"], booking["price"]["total"]);
    assert_eq!(counters().await, vec![(0, 1), (0, 1)]);
    let payment: Value = ana
        .get(&payment_url)
        .send()
        .await
        .expect("payment")
        .json()
        .await
        .expect("json");
    assert_eq!(payment["status"], "succeeded", "{payment}");

    // Bea's card is declined: her booking is cancelled and the rooms come back.
    let resp = bea
        .post(format!("{api}/bookings"))
        .json(&stay)
        .send()
        .await
        .expect("book");
    assert_eq!(resp.status(), 201);
    let declined_booking: Value = resp.json().await.expect("json");
    let declined_id = declined_booking["id"].as_str().expect("id").to_owned();
    assert_eq!(counters().await, vec![(1, 1), (1, 1)]);
    let declined_checkout = declined_booking["payment"]["checkout_url"]
        .as_str()
        .expect("checkout_url");
    let declined = pay(declined_checkout, "pm_card_chargeDeclined")
        .await
        .expect("pay");
    assert!(declined.status().is_client_error(), "{}", declined.status());
    let cancelled = booking_when(&bea, &api, &declined_id, |b| b["status"] == "cancelled").await;
    assert_eq!(cancelled["payment"]["status"], "failed", "{cancelled}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while counters().await != vec![(0, 1), (0, 1)] {
        assert!(
            Instant::now() < deadline,
            "the declined booking's rooms did not come back: {:?}",
            counters().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Ana cancels her paid booking: the payment service refunds it at the provider, and
    // `payment.refunded` records the refund on the booking.
    let resp = ana
        .post(format!("{api}/bookings/{id}/cancel"))
        .json(&json!({}))
        .send()
        .await
        .expect("cancel");
    assert_eq!(resp.status(), 200);
    let refund = resp.json::<Value>().await.expect("json")["refund"]["amount"].clone();
    assert_eq!(refund, booking["price"]["total"], "free cancellation");
    let refunded = booking_when(&ana, &api, &id, |b| b["payment"]["status"] == "refunded").await;
    assert_eq!(refunded["status"], "cancelled", "{refunded}");
    assert_eq!(refunded["payment"]["refunded"], refund);
    let history: Value = ana
        .get(format!("{api}/bookings/{id}/history"))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let last = history.as_array().and_then(|h| h.last()).cloned();
    assert_eq!(
        last.as_ref().map(|e| e["type"].clone()),
        Some(json!("refunded")),
        "{history}"
    );
    let payment: Value = ana
        .get(&payment_url)
        .send()
        .await
        .expect("payment")
        .json()
        .await
        .expect("json");
    assert_eq!(payment["amount_refunded"], refund, "{payment}");
    assert_eq!(counters().await, vec![(0, 0), (0, 0)]);
    // The provider's ledger: captured once, refunded in full.
    let intent = checkout.rsplit('/').next().expect("intent id");
    let ledger: Value = provider_api
        .get(format!("{provider}/_admin/ledger?payment_intent={intent}"))
        .bearer_auth(PROVIDER_KEY)
        .send()
        .await
        .expect("ledger")
        .json()
        .await
        .expect("json");
    assert_eq!(
        ledger["captured"], booking["price"]["total"]["amount"],
        "{ledger}"
    );
    assert_eq!(
        ledger["refunded"], booking["price"]["total"]["amount"],
        "{ledger}"
    );
    assert_eq!(ledger["double_captures"], 0, "{ledger}");
}

/// The booking `id` as `guest` reads it, once `done` holds of it (within 30 s).
async fn booking_when(
    guest: &reqwest::Client,
    api: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = guest
            .get(format!("{api}/bookings/{id}"))
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status(), 200);
        let booking: Value = resp.json().await.expect("json");
        if done(&booking) {
            return booking;
        }
        assert!(
            Instant::now() < deadline,
            "booking {id} did not get there: {booking}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
