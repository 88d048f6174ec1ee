//! A provider that is down: the breaker opens, calls fail fast, a probe closes it again; and
//! one whose answer was lost: the retry opens the same intent.

use super::*;

#[tokio::test]
async fn a_provider_that_is_down_fails_calls_fast_until_it_comes_back() {
    let world = world(true).await;
    let admin = |down: bool| {
        let http = world.http.clone();
        let url = format!("{}/_admin/faults", world.provider_url);
        async move {
            let status = http
                .post(url)
                .bearer_auth(API_KEY)
                .json(&json!({"down": down}))
                .send()
                .await
                .expect("admin")
                .status();
            assert_eq!(status, 200);
        }
    };
    admin(true).await;
    let booking = Uuid::now_v7();
    // Three attempts fail (retried within the budget); the breaker opens.
    let err = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 4_000))
        .await
        .expect_err("down");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert_eq!(err.code.http_status(), 503);
    let downstream = world.payment.service.provider().downstream().clone();
    assert_eq!(downstream.state(), BreakerState::Open);
    let reached = world.provider_requests.load(Ordering::SeqCst);
    assert_eq!(reached, 3, "the first call's attempts");
    for _ in 0..20 {
        let started = Instant::now();
        let err = world
            .client
            .create_intent(&booking_saga(), new_intent(Uuid::now_v7(), 4_000))
            .await
            .expect_err("fails fast");
        assert_eq!(err.code, ErrorCode::Unavailable);
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        world.provider_requests.load(Ordering::SeqCst),
        reached,
        "nothing reached the provider while open"
    );
    assert_eq!(
        world.status(booking).await,
        PaymentStatus::Creating,
        "recorded, owed nothing, resumable"
    );

    admin(false).await;
    eventually("half-open", async || {
        downstream.state() == BreakerState::HalfOpen
    })
    .await;
    let resumed = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 4_000))
        .await
        .expect("the probe goes through");
    assert_eq!(downstream.state(), BreakerState::Closed);
    assert_eq!(resumed.status, PaymentStatus::RequiresPayment);
    assert!(resumed.checkout_url.is_some());
    assert_eq!(
        world.provider_requests.load(Ordering::SeqCst),
        reached + 1,
        "one probe"
    );
}

/// A crash between the provider's answer and recording it: the booking's retry (which drew
/// another reference) opens the same payment at the provider, under the first attempt's
/// reference, instead of being refused for reusing the provider's idempotency key with other
/// parameters.
#[tokio::test]
async fn a_retry_after_a_lost_answer_opens_the_first_attempts_intent() {
    // No worker: it would resume the payment itself.
    let world = world(false).await;
    let lose = |rate: f64| {
        let http = world.http.clone();
        let url = format!("{}/_admin/faults", world.provider_url);
        async move {
            let status = http
                .post(url)
                .bearer_auth(API_KEY)
                .json(&json!({"lost_response_rate": rate}))
                .send()
                .await
                .expect("admin")
                .status();
            assert_eq!(status, 200);
        }
    };
    lose(1.0).await;
    let booking = Uuid::now_v7();
    world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 4_000))
        .await
        .expect_err("every answer lost");
    assert_eq!(world.status(booking).await, PaymentStatus::Creating);

    lose(0.0).await;
    let downstream = world.payment.service.provider().downstream().clone();
    eventually("the breaker lets a probe through", async || {
        downstream.state() != BreakerState::Open
    })
    .await;
    let mut retry = new_intent(booking, 4_000);
    retry.reference = "INK-RETRY2".into();
    let opened = world
        .client
        .create_intent(&booking_saga(), retry)
        .await
        .expect("the retry opens the payment");
    assert_eq!(opened.status, PaymentStatus::RequiresPayment);
    assert_eq!(
        opened.reference, "INK-7F3K9Q",
        "the first attempt's reference"
    );
    assert!(opened.checkout_url.is_some());
}
