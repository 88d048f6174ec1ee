//! The HTTP surface in-process (tower `oneshot`) on a fresh SQLite database per test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use innkeeper_kernel::SystemClock;
use innkeeper_platform::testing::TestDatabase;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::module::PaymentProviderModule;
use crate::settings::{PaymentProviderConfig, ProviderSettings};

const KEY: &str = "sk_test_innkeeper_development_only";

pub(crate) fn settings() -> ProviderSettings {
    let mut config = PaymentProviderConfig::defaults().expect("defaults");
    config.webhook_url = String::new();
    config.public_url = "http://pay.test/".into();
    config.processing_delay_ms = 0;
    config.settings().expect("valid")
}

struct Provider {
    module: PaymentProviderModule,
    router: Router,
    _database: TestDatabase,
}

async fn provider() -> Provider {
    provider_on(TestDatabase::sqlite().await).await
}

async fn provider_on(database: TestDatabase) -> Provider {
    let module = PaymentProviderModule::start(&database.db, Arc::new(SystemClock), settings())
        .await
        .expect("start");
    Provider {
        router: module.router(),
        module,
        _database: database,
    }
}

/// A request with the API key, an optional idempotency key and an optional JSON body.
fn request(method: &str, uri: &str, key: Option<&str>, body: Option<&Value>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {KEY}"));
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).expect("utf-8"),
    )
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let (status, headers, text) = send(router, request(method, uri, key, body.as_ref())).await;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, value)
}

fn create_body(amount: i64) -> Value {
    json!({
        "amount": amount,
        "currency": "EUR",
        "return_url": "http://shop.test/bookings/1?step=paid",
        "description": "Casa do Rio, 2 nights",
        "metadata": {"booking_id": "b-1"},
    })
}

async fn create(router: &Router, amount: i64) -> String {
    let (status, _, intent) = call(
        router,
        "POST",
        "/v1/payment_intents",
        None,
        Some(create_body(amount)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{intent}");
    intent["id"].as_str().expect("id").to_owned()
}

async fn confirm(router: &Router, id: &str, token: &str) -> (StatusCode, Value) {
    let (status, _, body) = call(
        router,
        "POST",
        &format!("/v1/payment_intents/{id}/confirm"),
        None,
        Some(json!({"payment_method": token})),
    )
    .await;
    (status, body)
}

async fn ledger(router: &Router) -> Value {
    let (status, _, ledger) = call(router, "GET", "/_admin/ledger", None, None).await;
    assert_eq!(status, StatusCode::OK);
    ledger
}

fn error_of(body: &Value) -> (&str, &str, &str) {
    (
        body["error"]["type"].as_str().unwrap_or("-"),
        body["error"]["code"].as_str().unwrap_or("-"),
        body["error"]["param"].as_str().unwrap_or("-"),
    )
}

#[tokio::test]
async fn an_intent_is_created_and_read_back() {
    let p = provider().await;
    let (status, _, created) = call(
        &p.router,
        "POST",
        "/v1/payment_intents",
        None,
        Some(create_body(12_900)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("id");
    assert!(id.starts_with("pi_"), "{id}");
    assert_eq!(created["object"], "payment_intent");
    assert_eq!(created["status"], "requires_payment_method");
    assert_eq!(created["currency"], "eur");
    assert_eq!(created["amount_received"], 0);
    assert_eq!(created["metadata"], json!({"booking_id": "b-1"}));
    assert_eq!(
        created["next_action"]["redirect_to_url"]["url"],
        format!("http://pay.test/checkout/{id}")
    );
    let (status, _, read) = call(
        &p.router,
        "GET",
        &format!("/v1/payment_intents/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);
}

#[tokio::test]
async fn the_same_key_and_body_replay_and_another_body_is_an_idempotency_error() {
    let p = provider().await;
    let create_with = |key: &'static str, body: Value| {
        let router = p.router.clone();
        async move {
            call(
                &router,
                "POST",
                "/v1/payment_intents",
                Some(key),
                Some(body),
            )
            .await
        }
    };
    let (status, headers, first) = create_with("order-1", create_body(12_900)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("idempotent-replayed").is_none());
    // The same parameters in another order are the same request.
    let reordered = json!({
        "metadata": {"booking_id": "b-1"},
        "description": "Casa do Rio, 2 nights",
        "return_url": "http://shop.test/bookings/1?step=paid",
        "currency": "EUR",
        "amount": 12_900,
    });
    let (status, headers, again) = create_with("order-1", reordered).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("idempotent-replayed").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(again, first);

    let (status, _, mismatch) = create_with("order-1", create_body(13_000)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&mismatch).0, "idempotency_error");

    let (_, _, other) = create_with("order-2", create_body(12_900)).await;
    assert_ne!(other["id"], first["id"], "another key is another payment");
    let no_key_1 = create(&p.router, 12_900).await;
    let no_key_2 = create(&p.router, 12_900).await;
    assert_ne!(no_key_1, no_key_2, "without a key, every request creates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_requests_with_one_key_create_one_intent() {
    concurrent_requests_with_one_key_create_one_intent(provider().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_requests_with_one_key_create_one_intent() {
    if let Some(database) = TestDatabase::postgres().await {
        concurrent_requests_with_one_key_create_one_intent(provider_on(database).await).await;
    }
}

async fn concurrent_requests_with_one_key_create_one_intent(p: Provider) {
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let router = p.router.clone();
            tokio::spawn(async move {
                call(
                    &router,
                    "POST",
                    "/v1/payment_intents",
                    Some("same"),
                    Some(create_body(500)),
                )
                .await
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let (status, _, body) = task.await.expect("task");
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.insert(body["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
}

#[tokio::test]
async fn bad_parameters_are_refused_naming_the_parameter() {
    let p = provider().await;
    let cases = [
        (
            json!({"currency": "eur", "return_url": "http://a.test"}),
            "amount",
            "parameter_missing",
        ),
        (
            json!({"amount": 0, "currency": "eur", "return_url": "http://a.test"}),
            "amount",
            "parameter_invalid_integer",
        ),
        (
            json!({"amount": "ten", "currency": "eur", "return_url": "http://a.test"}),
            "amount",
            "parameter_invalid",
        ),
        (
            json!({"amount": 100, "currency": "euro", "return_url": "http://a.test"}),
            "currency",
            "parameter_invalid_string",
        ),
        (
            json!({"amount": 100, "currency": "eur", "return_url": "javascript:alert(1)"}),
            "return_url",
            "url_invalid",
        ),
        (
            json!({"amount": 100, "currency": "eur", "return_url": "http://a.test", "colour": "red"}),
            "colour",
            "parameter_unknown",
        ),
        (
            json!({"amount": 100, "currency": "eur", "return_url": "http://a.test", "metadata": {"k": "v".repeat(501)}}),
            "metadata[k]",
            "parameter_invalid_string",
        ),
    ];
    for (body, param, code) in cases {
        let (status, _, error) = call(
            &p.router,
            "POST",
            "/v1/payment_intents",
            None,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(
            error_of(&error),
            ("invalid_request_error", code, param),
            "{body}"
        );
    }
    let (status, _, text) = send(
        &p.router,
        Request::builder()
            .method("POST")
            .uri("/v1/payment_intents")
            .header("authorization", format!("Bearer {KEY}"))
            .body(Body::from("{not json"))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("parameter_invalid_json"), "{text}");
    let (status, _, missing) =
        call(&p.router, "GET", "/v1/payment_intents/pi_nope", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&missing).1, "resource_missing");
}

#[tokio::test]
async fn callers_need_a_secret_key() {
    let p = provider().await;
    for authorization in [
        None,
        Some("Bearer sk_test_wrong_key_of_some_length"),
        Some(KEY),
    ] {
        let mut builder = Request::builder().method("POST").uri("/v1/payment_intents");
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        let request = builder
            .header("content-type", "application/json")
            .body(Body::from(create_body(100).to_string()))
            .expect("request");
        let (status, _, body) = send(&p.router, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert!(body.contains("invalid_request_error"), "{body}");
    }
    let admin = Request::builder()
        .uri("/_admin/ledger")
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&p.router, admin).await.0, StatusCode::UNAUTHORIZED);
    // The checkout page is for the payer's browser: no key.
    let id = create(&p.router, 100).await;
    let page = Request::builder()
        .uri(format!("/checkout/{id}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&p.router, page).await.0, StatusCode::OK);
}

#[tokio::test]
async fn test_tokens_decide_the_outcome_and_a_paid_intent_is_not_paid_again() {
    let p = provider().await;
    let id = create(&p.router, 12_900).await;
    let (status, declined) = confirm(&p.router, &id, "pm_card_chargeDeclined").await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(error_of(&declined).0, "card_error");
    assert_eq!(declined["error"]["decline_code"], "generic_decline");
    assert_eq!(
        declined["error"]["payment_intent"]["status"],
        "requires_payment_method"
    );

    let (status, _) = confirm(&p.router, &id, "pm_card_chargeDeclinedProcessingError").await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let (_, _, intent) = call(
        &p.router,
        "GET",
        &format!("/v1/payment_intents/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(intent["last_payment_error"]["code"], "processing_error");

    let (status, paid) = confirm(&p.router, &id, "pm_card_visa").await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(
        (paid["status"].as_str(), paid["amount_received"].as_i64()),
        (Some("succeeded"), Some(12_900))
    );
    assert_eq!(paid["last_payment_error"], Value::Null);
    assert_eq!(paid["next_action"], Value::Null);

    let (status, again) = confirm(&p.router, &id, "pm_card_visa").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&again).1, "payment_intent_unexpected_state");
    let (status, unknown) = confirm(&p.router, &id, "pm_card_mastercard_gold").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&unknown).2, "payment_method");

    let ledger = ledger(&p.router).await;
    assert_eq!(
        (
            ledger["captured"].as_i64(),
            ledger["double_captures"].as_i64()
        ),
        (Some(12_900), Some(0))
    );
    // One event per attempt: two failures and the success.
    let types: Vec<String> = p
        .module
        .service
        .store()
        .deliveries(10)
        .await
        .expect("deliveries")
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    assert_eq!(
        types,
        [
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
            "payment_intent.payment_failed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_confirmations_capture_once() {
    concurrent_confirmations_capture_once(provider().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_confirmations_capture_once() {
    if let Some(database) = TestDatabase::postgres().await {
        concurrent_confirmations_capture_once(provider_on(database).await).await;
    }
}

async fn concurrent_confirmations_capture_once(p: Provider) {
    let id = create(&p.router, 7_000).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (router, id) = (p.router.clone(), id.clone());
            tokio::spawn(async move { confirm(&router, &id, "pm_card_visa").await })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        let (status, body) = task.await.expect("task");
        match status {
            StatusCode::OK => succeeded += 1,
            _ => assert_eq!(
                error_of(&body).1,
                "payment_intent_unexpected_state",
                "{body}"
            ),
        }
    }
    assert_eq!(succeeded, 1);
    let ledger = ledger(&p.router).await;
    assert_eq!(ledger["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(ledger["double_captures"], 0);
}

#[tokio::test]
async fn refunds_are_bounded_by_the_capture_and_idempotent_by_key() {
    let p = provider().await;
    let id = create(&p.router, 12_900).await;
    let refund = |key: Option<&'static str>, body: Value| {
        let router = p.router.clone();
        async move { call(&router, "POST", "/v1/refunds", key, Some(body)).await }
    };
    let (status, _, unpaid) = refund(None, json!({"payment_intent": id})).await;
    assert_eq!(
        (status, error_of(&unpaid).1),
        (StatusCode::BAD_REQUEST, "charge_not_refundable")
    );
    confirm(&p.router, &id, "pm_card_visa").await;

    let (status, _, first) =
        refund(Some("r-1"), json!({"payment_intent": id, "amount": 900})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        (first["object"].as_str(), first["amount"].as_i64()),
        (Some("refund"), Some(900))
    );
    let (_, headers, replay) =
        refund(Some("r-1"), json!({"payment_intent": id, "amount": 900})).await;
    assert_eq!(replay, first);
    assert!(headers.contains_key("idempotent-replayed"));
    let (status, _, mismatch) =
        refund(Some("r-1"), json!({"payment_intent": id, "amount": 901})).await;
    assert_eq!(
        (status, error_of(&mismatch).0),
        (StatusCode::BAD_REQUEST, "idempotency_error")
    );

    let (status, _, too_much) = refund(None, json!({"payment_intent": id, "amount": 12_001})).await;
    assert_eq!(
        (status, error_of(&too_much).1, error_of(&too_much).2),
        (StatusCode::BAD_REQUEST, "amount_too_large", "amount")
    );
    let (status, _, zero) = refund(None, json!({"payment_intent": id, "amount": 0})).await;
    assert_eq!(
        (status, error_of(&zero).2),
        (StatusCode::BAD_REQUEST, "amount")
    );

    let (status, _, rest) = refund(Some("r-2"), json!({"payment_intent": id})).await;
    assert_eq!(
        (status, rest["amount"].as_i64()),
        (StatusCode::OK, Some(12_000))
    );
    // A replay after everything is refunded still answers the first time's refund.
    let (status, _, replay) = refund(Some("r-2"), json!({"payment_intent": id})).await;
    assert_eq!((status, replay), (StatusCode::OK, rest));
    let (status, _, done) = refund(None, json!({"payment_intent": id})).await;
    assert_eq!(
        (status, error_of(&done).1),
        (StatusCode::BAD_REQUEST, "charge_already_refunded")
    );

    let ledger = ledger(&p.router).await;
    assert_eq!(
        (ledger["captured"].as_i64(), ledger["refunded"].as_i64()),
        (Some(12_900), Some(12_900))
    );
    let (_, _, listed) = call(
        &p.router,
        "GET",
        &format!("/v1/refunds?payment_intent={id}"),
        None,
        None,
    )
    .await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_refunds_never_exceed_the_capture() {
    concurrent_refunds_never_exceed_the_capture(provider().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_refunds_never_exceed_the_capture() {
    if let Some(database) = TestDatabase::postgres().await {
        concurrent_refunds_never_exceed_the_capture(provider_on(database).await).await;
    }
}

async fn concurrent_refunds_never_exceed_the_capture(p: Provider) {
    let id = create(&p.router, 12_900).await;
    confirm(&p.router, &id, "pm_card_visa").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (router, id) = (p.router.clone(), id.clone());
            tokio::spawn(async move {
                call(
                    &router,
                    "POST",
                    "/v1/refunds",
                    None,
                    Some(json!({"payment_intent": id, "amount": 2_000})),
                )
                .await
            })
        })
        .collect();
    let mut refunded = 0;
    for task in tasks {
        let (status, _, body) = task.await.expect("task");
        match status {
            StatusCode::OK => refunded += 1,
            _ => assert_eq!(error_of(&body).1, "amount_too_large", "{body}"),
        }
    }
    assert_eq!(refunded, 6, "6 x 2000 fit in 12900, a 7th does not");
    assert_eq!(ledger(&p.router).await["refunded"], 12_000);
}

#[tokio::test]
async fn only_an_unpaid_intent_can_be_canceled() {
    let p = provider().await;
    let id = create(&p.router, 100).await;
    let cancel = |id: String, body: Value| {
        let router = p.router.clone();
        async move {
            call(
                &router,
                "POST",
                &format!("/v1/payment_intents/{id}/cancel"),
                None,
                Some(body),
            )
            .await
        }
    };
    let (status, _, bad) = cancel(id.clone(), json!({"cancellation_reason": "bored"})).await;
    assert_eq!(
        (status, error_of(&bad).2),
        (StatusCode::BAD_REQUEST, "cancellation_reason")
    );
    let (status, _, canceled) =
        cancel(id.clone(), json!({"cancellation_reason": "abandoned"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            canceled["status"].as_str(),
            canceled["cancellation_reason"].as_str()
        ),
        (Some("canceled"), Some("abandoned"))
    );
    assert_eq!(
        confirm(&p.router, &id, "pm_card_visa").await.0,
        StatusCode::BAD_REQUEST
    );

    let paid = create(&p.router, 100).await;
    confirm(&p.router, &paid, "pm_card_visa").await;
    let (status, _, refused) = cancel(paid, json!({})).await;
    assert_eq!(
        (status, error_of(&refused).1),
        (StatusCode::BAD_REQUEST, "payment_intent_unexpected_state")
    );
}

// ---------------------------------------------------------------------------------------------
// The hosted checkout page
// ---------------------------------------------------------------------------------------------

async fn checkout(router: &Router, id: &str, card: &str) -> (StatusCode, HeaderMap, String) {
    let request = Request::builder()
        .method("POST")
        .uri(format!("/checkout/{id}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "card_number={}",
            card.replace(' ', "+")
        )))
        .expect("request");
    send(router, request).await
}

async fn intent(p: &Provider, id: &str) -> crate::domain::PaymentIntent {
    p.module.service.get_intent(id).await.expect("intent")
}

#[tokio::test]
async fn the_checkout_page_shows_the_amount_and_a_card_field() {
    let p = provider().await;
    let (_, _, created) = call(
        &p.router,
        "POST",
        "/v1/payment_intents",
        None,
        Some(
            json!({"amount": 12_900, "currency": "eur", "return_url": "http://shop.test/",
                    "description": "<script>alert(1)</script>"}),
        ),
    )
    .await;
    let id = created["id"].as_str().expect("id");
    let page = Request::builder()
        .uri(format!("/checkout/{id}"))
        .body(Body::empty())
        .expect("request");
    let (status, headers, html) = send(&p.router, page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert!(html.contains("129.00 EUR"), "{html}");
    assert!(html.contains("name=\"card_number\""));
    assert!(
        html.contains("&lt;script&gt;") && !html.contains("<script>"),
        "escaped: {html}"
    );
    assert!(
        !html.contains("src=") && !html.contains("href=\"http"),
        "no external assets"
    );

    let missing = Request::builder()
        .uri("/checkout/pi_nope")
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&p.router, missing).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_test_card_decides_its_outcome_and_redirects_back() {
    let p = provider().await;
    let cases = [
        ("4242 4242 4242 4242", "succeeded", "succeeded", None),
        (
            "4000000000000002",
            "failed",
            "requires_payment_method",
            Some("generic_decline"),
        ),
        (
            "4000000000009995",
            "failed",
            "requires_payment_method",
            Some("insufficient_funds"),
        ),
        (
            "4000000000000119",
            "failed",
            "requires_payment_method",
            None,
        ),
        ("4000000000001018", "processing", "processing", None),
    ];
    for (card, redirect_status, status, decline_code) in cases {
        let id = create(&p.router, 12_900).await;
        let (code, headers, _) = checkout(&p.router, &id, card).await;
        assert_eq!(code, StatusCode::SEE_OTHER, "{card}");
        assert_eq!(
            headers["location"],
            format!("http://shop.test/bookings/1?step=paid&payment_intent={id}&redirect_status={redirect_status}").as_str(),
            "{card}"
        );
        let after = intent(&p, &id).await;
        assert_eq!(after.status.as_str(), status, "{card}");
        let error = after.last_payment_error.as_ref();
        assert_eq!(
            error.and_then(|e| e.decline_code.as_deref()),
            decline_code,
            "{card}"
        );
        if card == "4000000000000119" {
            assert_eq!(error.map(|e| e.code.as_str()), Some("processing_error"));
        }
    }
    // The delayed card's payment settles once its delay (0 here) is over.
    assert_eq!(p.module.service.settle_due(10).await.expect("settle"), 1);
    assert_eq!(
        p.module.service.settle_due(10).await.expect("settle"),
        0,
        "settles once"
    );
    let ledger = ledger(&p.router).await;
    assert_eq!(ledger["captured_intents"], 2, "{ledger}");
    let mut types: Vec<String> = p
        .module
        .service
        .store()
        .deliveries(20)
        .await
        .expect("deliveries")
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "payment_intent.payment_failed",
            "payment_intent.payment_failed",
            "payment_intent.payment_failed",
            "payment_intent.processing",
            "payment_intent.succeeded",
            "payment_intent.succeeded",
        ]
    );
}

#[tokio::test]
async fn an_unknown_card_shows_the_form_again_and_a_paid_intent_is_not_paid_twice() {
    let p = provider().await;
    let id = create(&p.router, 12_900).await;
    let (status, _, html) = checkout(&p.router, &id, "5555555555554444").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("not a test card number") && html.contains("<form"),
        "{html}"
    );
    let untouched = intent(&p, &id).await;
    assert_eq!((untouched.version, untouched.last_payment_error), (1, None));

    assert_eq!(
        checkout(&p.router, &id, "4242424242424242").await.0,
        StatusCode::SEE_OTHER
    );
    let (status, _, html) = checkout(&p.router, &id, "4242424242424242").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("paid already"), "{html}");
    assert_eq!(
        ledger(&p.router).await["entries"].as_array().map(Vec::len),
        Some(1)
    );
}

// ---------------------------------------------------------------------------------------------
// Fault injection
// ---------------------------------------------------------------------------------------------

async fn set_faults(router: &Router, faults: Value) -> (StatusCode, Value) {
    let (status, _, body) = call(router, "POST", "/_admin/faults", None, Some(faults)).await;
    (status, body)
}

#[tokio::test]
async fn a_provider_made_down_refuses_everything_but_its_admin_routes() {
    let p = provider().await;
    let id = create(&p.router, 100).await;
    assert_eq!(
        set_faults(&p.router, json!({"down": true})).await.0,
        StatusCode::OK
    );
    let (status, headers, body) = call(
        &p.router,
        "GET",
        &format!("/v1/payment_intents/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["connection"], "close");
    assert_eq!(error_of(&body).0, "api_error");
    let page = Request::builder()
        .uri(format!("/checkout/{id}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        send(&p.router, page).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let (_, _, faults) = call(&p.router, "GET", "/_admin/faults", None, None).await;
    assert_eq!(faults["down"], true);
    assert_eq!(set_faults(&p.router, json!({})).await.0, StatusCode::OK);
    let (status, _, _) = call(
        &p.router,
        "GET",
        &format!("/v1/payment_intents/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn injected_errors_and_latency_apply_and_bad_settings_are_refused() {
    let p = provider().await;
    set_faults(&p.router, json!({"error_rate": 1.0})).await;
    let (status, _, body) = call(
        &p.router,
        "POST",
        "/v1/payment_intents",
        Some("k"),
        Some(create_body(100)),
    )
    .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::INTERNAL_SERVER_ERROR, "api_error")
    );
    assert!(
        p.module
            .service
            .store()
            .find_key("k")
            .await
            .expect("find")
            .is_none(),
        "nothing ran"
    );

    set_faults(&p.router, json!({"latency_ms": 150})).await;
    let started = Instant::now();
    create(&p.router, 100).await;
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );

    let (status, body) = set_faults(&p.router, json!({"error_rate": 2.0})).await;
    assert_eq!(
        (status, error_of(&body).2),
        (StatusCode::BAD_REQUEST, "error_rate")
    );
    let (status, body) = set_faults(&p.router, json!({"slow": true})).await;
    assert_eq!(
        (status, error_of(&body).1),
        (StatusCode::BAD_REQUEST, "parameter_unknown")
    );
}

#[tokio::test]
async fn about_half_the_requests_fail_at_an_error_rate_of_one_half() {
    let p = provider().await;
    set_faults(&p.router, json!({"error_rate": 0.5})).await;
    let mut failed = 0;
    for _ in 0..200 {
        let (status, _, _) = call(&p.router, "GET", "/v1/payment_intents/pi_x", None, None).await;
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            failed += 1;
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }
    // Binomial(200, 0.5): outside 60..=140 with probability below 1e-8.
    assert!((60..=140).contains(&failed), "{failed} of 200 failed");
}

#[tokio::test]
async fn a_lost_answer_is_recovered_by_retrying_with_the_same_key() {
    let p = provider().await;
    let id = create(&p.router, 12_900).await;
    set_faults(&p.router, json!({"lost_response_rate": 1.0})).await;
    let (status, _, lost) = confirm_with_key(&p.router, &id, "pay-1").await;
    assert_eq!(
        (status, error_of(&lost).0),
        (StatusCode::INTERNAL_SERVER_ERROR, "api_error")
    );
    set_faults(&p.router, json!({})).await;
    let (status, headers, paid) = confirm_with_key(&p.router, &id, "pay-1").await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert!(
        headers.contains_key("idempotent-replayed"),
        "the first attempt had paid"
    );
    assert_eq!(paid["status"], "succeeded");
    let ledger = ledger(&p.router).await;
    assert_eq!(
        (
            ledger["captured"].as_i64(),
            ledger["double_captures"].as_i64()
        ),
        (Some(12_900), Some(0))
    );
}

async fn confirm_with_key(router: &Router, id: &str, key: &str) -> (StatusCode, HeaderMap, Value) {
    call(
        router,
        "POST",
        &format!("/v1/payment_intents/{id}/confirm"),
        Some(key),
        Some(json!({"payment_method": "pm_card_visa"})),
    )
    .await
}

#[tokio::test]
async fn the_admin_view_lists_deliveries_and_refuses_bad_queries() {
    let p = provider().await;
    let id = create(&p.router, 100).await;
    confirm(&p.router, &id, "pm_card_visa").await;
    let (status, _, listed) = call(
        &p.router,
        "GET",
        "/_admin/webhook_deliveries?limit=5",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let first = &listed["data"][0];
    assert_eq!(
        (first["event_type"].as_str(), first["status"].as_str()),
        (Some("payment_intent.succeeded"), Some("pending"))
    );
    let (status, _, bad) = call(
        &p.router,
        "GET",
        "/_admin/webhook_deliveries?limit=many",
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, error_of(&bad).0),
        (StatusCode::BAD_REQUEST, "invalid_request_error")
    );
}

#[tokio::test]
async fn the_provider_works_mounted_under_a_prefix() {
    let p = provider().await;
    let nested = Router::new().nest("/provider", p.module.router());
    let (status, _, created) = call(
        &nested,
        "POST",
        "/provider/v1/payment_intents",
        None,
        Some(create_body(100)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("id");
    let page = Request::builder()
        .uri(format!("/provider/checkout/{id}"))
        .body(Body::empty())
        .expect("request");
    let (status, _, html) = send(&nested, page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<form method=\"post\">"),
        "posts back to where it was served"
    );
    let pay = Request::builder()
        .method("POST")
        .uri(format!("/provider/checkout/{id}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("card_number=4242424242424242"))
        .expect("request");
    let (status, headers, _) = send(&nested, pay).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{headers:?}");
    assert_eq!(
        intent(&p, id).await.status,
        crate::domain::IntentStatus::Succeeded
    );
}
