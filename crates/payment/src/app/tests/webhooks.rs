//! The webhook matrix: forged, stale, replayed, duplicated and out-of-order messages; the
//! metrics that count them.

use super::*;

#[tokio::test]
async fn webhooks_are_verified_and_have_one_effect_each() {
    let world = world(true).await;
    let booking = Uuid::now_v7();
    let intent = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 5_000))
        .await
        .expect("intent");
    let pi = intent.provider_intent_id.clone().expect("id");
    let secret = provider_secret();
    let object = json!({"id": pi, "object": "payment_intent", "status": "succeeded",
        "amount": 5_000, "amount_received": 5_000, "amount_refunded": 0, "currency": "eur",
        "metadata": {"payment_id": intent.id.to_string()}});
    let body = json!({"id": "evt_matrix_1", "object": "event", "type": "payment_intent.succeeded",
        "data": {"object": object}})
    .to_string()
    .into_bytes();
    let wrong = WebhookSecret::generate();
    let tampered = String::from_utf8(body.clone())
        .expect("utf-8")
        .replace("5000", "1")
        .into_bytes();
    let mut missing = signed(&secret, "evt_matrix_1", now(), &body);
    missing.remove("webhook-signature");
    let forged = [
        (
            "tampered body",
            signed(&secret, "evt_matrix_1", now(), &body),
            tampered,
        ),
        (
            "wrong secret",
            signed(&wrong, "evt_matrix_1", now(), &body),
            body.clone(),
        ),
        (
            "stale timestamp",
            signed(&secret, "evt_matrix_1", now() - 301, &body),
            body.clone(),
        ),
        (
            "future timestamp",
            signed(&secret, "evt_matrix_1", now() + 301, &body),
            body.clone(),
        ),
        ("no signature", missing, body.clone()),
    ];
    for (case, headers, body) in &forged {
        let (status, problem) = world.send(headers, body).await;
        assert_eq!(status, 401, "{case}");
        assert_eq!(problem["code"], "unauthenticated", "{case}");
        assert_eq!(problem["status"], 401, "{case}");
    }
    assert_eq!(
        world.status(booking).await,
        PaymentStatus::RequiresPayment,
        "0 false accepts"
    );
    assert!(world.events(booking).await.is_empty());

    // Valid, then replayed as captured, then redelivered with a fresh signature.
    let valid = signed(&secret, "evt_matrix_1", now(), &body);
    let service = &world.payment.service;
    assert_eq!(
        service.handle_webhook(&valid, &body).await.expect("valid"),
        WebhookOutcome::Applied
    );
    assert_eq!(
        service.handle_webhook(&valid, &body).await.expect("replay"),
        WebhookOutcome::Duplicate
    );
    let (status, _) = world
        .send(&signed(&secret, "evt_matrix_1", now(), &body), &body)
        .await;
    assert_eq!(status, 204);
    assert_eq!(world.status(booking).await, PaymentStatus::Succeeded);
    assert_eq!(
        world.count(booking, "innkeeper.payment.succeeded.v1").await,
        1
    );

    // Out of order: a `processing` that arrives after the success changes nothing.
    let late = json!({"id": "evt_matrix_2", "type": "payment_intent.processing",
        "data": {"object": {"id": pi, "status": "processing", "amount": 5_000}}})
    .to_string()
    .into_bytes();
    assert_eq!(
        service
            .handle_webhook(&signed(&secret, "evt_matrix_2", now(), &late), &late)
            .await
            .expect("applied"),
        WebhookOutcome::Applied
    );
    assert_eq!(world.status(booking).await, PaymentStatus::Succeeded);

    // Out of order: a refund made at the provider, reported before the payment it refunds.
    let other = Uuid::now_v7();
    let second = world
        .client
        .create_intent(&booking_saga(), new_intent(other, 7_000))
        .await
        .expect("intent");
    let pi2 = second.provider_intent_id.expect("id");
    let refund = json!({"id": "evt_matrix_3", "type": "refund.created",
        "data": {"object": {"id": "re_external", "object": "refund", "amount": 2_000,
                            "payment_intent": pi2, "status": "succeeded"}}})
    .to_string()
    .into_bytes();
    let paid = json!({"id": "evt_matrix_4", "type": "payment_intent.succeeded",
        "data": {"object": {"id": pi2, "status": "succeeded", "amount": 7_000, "amount_received": 7_000}}})
    .to_string()
    .into_bytes();
    for (id, body) in [
        ("evt_matrix_3", &refund),
        ("evt_matrix_4", &paid),
        ("evt_matrix_3", &refund),
    ] {
        service
            .handle_webhook(&signed(&secret, id, now(), body), body)
            .await
            .expect("accepted");
    }
    let events: Vec<String> = world
        .events(other)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        events,
        [
            "innkeeper.payment.succeeded.v1",
            "innkeeper.payment.refunded.v1"
        ],
        "one effect each, in causal order"
    );
    let payment = world
        .client
        .get_for_booking(&booking_saga(), other)
        .await
        .expect("payment");
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(payment.amount_refunded, 2_000);

    // An intent that is not ours is acknowledged and ignored.
    let foreign = json!({"id": "evt_matrix_5", "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_someone_else", "status": "succeeded", "amount": 1}}})
    .to_string()
    .into_bytes();
    assert_eq!(
        service
            .handle_webhook(&signed(&secret, "evt_matrix_5", now(), &foreign), &foreign)
            .await
            .expect("ignored"),
        WebhookOutcome::Ignored
    );
}

#[test]
fn rejected_webhooks_and_the_breaker_are_visible_in_metrics() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // A thread-local recorder and a runtime on this thread: every task of the test reports
    // here, and no other test does.
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let database = TestDatabase::sqlite().await;
            let closed = std::net::TcpListener::bind("127.0.0.1:0")
                .expect("bind")
                .local_addr()
                .expect("addr");
            let mut config = PaymentConfig::defaults().expect("defaults");
            config.provider_url = format!("http://{closed}");
            config.provider_calls.backoff_base_ms = 1;
            config.provider_calls.backoff_max_ms = 2;
            config.provider_calls.breaker.consecutive_failures = 3;
            let payment = PaymentModule::start(
                &database.db,
                Arc::new(SystemClock),
                config.settings().expect("valid"),
            )
            .await
            .expect("start");
            let service = payment.service.clone();
            let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{}}}"#;
            let wrong = WebhookSecret::generate();
            let secret = provider_secret();
            for headers in [
                signed(&wrong, "evt_1", now(), body),
                signed(&secret, "evt_1", now() - 3_600, body),
            ] {
                let err = service
                    .handle_webhook(&headers, body)
                    .await
                    .expect_err("401");
                assert_eq!(err.code, ErrorCode::Unauthenticated);
            }
            for _ in 0..2 {
                let err = service
                    .create_intent(&booking_saga(), new_intent(Uuid::now_v7(), 100))
                    .await
                    .expect_err("unreachable");
                assert_eq!(err.code, ErrorCode::Unavailable);
            }
        });
    });
    /// A metric's name, labels and value.
    type Metric = (String, Vec<(String, String)>, DebugValue);
    let metrics: Vec<Metric> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect();
    let value = |name: &str, label: (&str, &str)| {
        metrics
            .iter()
            .find(|(n, labels, _)| {
                n == name && labels.iter().any(|(k, v)| k == label.0 && v == label.1)
            })
            .map(|(_, _, v)| v)
    };
    assert_eq!(
        value(
            "innkeeper_payment_webhook_rejected_total",
            ("reason", "bad_signature")
        ),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(
            "innkeeper_payment_webhook_rejected_total",
            ("reason", "stale_timestamp")
        ),
        Some(&DebugValue::Counter(1))
    );
    let provider = ("downstream", "payment_provider");
    assert_eq!(
        value("innkeeper_downstream_retries_total", provider),
        Some(&DebugValue::Counter(2)),
        "the first call's two retries"
    );
    assert_eq!(
        value("innkeeper_downstream_rejected_total", provider),
        Some(&DebugValue::Counter(1)),
        "the second call failed fast"
    );
    assert!(matches!(
        value("innkeeper_downstream_breaker_state", provider),
        Some(DebugValue::Gauge(g)) if g.into_inner() == 1.0
    ));
}
