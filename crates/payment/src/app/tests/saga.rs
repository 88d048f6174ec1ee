//! The saga's payment side, end to end against the provider: paid, declined, refunded,
//! the booking's end, late money; on SQLite and PostgreSQL.

use super::*;

#[tokio::test]
async fn a_paid_intent_publishes_payment_succeeded_exactly_once() {
    let world = world(true).await;
    let booking = Uuid::now_v7();
    let created = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 25_800))
        .await
        .expect("intent");
    assert_eq!(created.status, PaymentStatus::RequiresPayment);
    let pi = created.provider_intent_id.clone().expect("provider id");
    let checkout = created.checkout_url.clone().expect("checkout link");
    assert_eq!(checkout, format!("{}/checkout/{pi}", world.provider_url));
    let again = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 25_800))
        .await
        .expect("idempotent per booking");
    assert_eq!(again.id, created.id);
    assert_eq!(again.provider_intent_id, created.provider_intent_id);
    let other_amount = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 100))
        .await
        .expect_err("another amount");
    assert_eq!(other_amount.code, ErrorCode::Conflict);

    assert_eq!(world.pay(&pi, "pm_card_visa").await, 200);
    eventually("succeeded", async || {
        world.status(booking).await == PaymentStatus::Succeeded
    })
    .await;
    world.deliveries_settled().await;
    let events = world.events(booking).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (event_type, data) = &events[0];
    assert_eq!(event_type, "innkeeper.payment.succeeded.v1");
    // The form the booking service reads.
    assert_eq!(data["payment_id"], json!(created.id.0));
    assert_eq!(data["booking_id"], json!(booking));
    assert_eq!(data["amount"], json!({"amount": 25_800, "currency": "EUR"}));

    // The provider delivers again (as after a lost answer), re-signed with a fresh timestamp.
    let delivered = world
        .received
        .lock()
        .expect("lock")
        .iter()
        .find(|r| {
            serde_json::from_slice::<Value>(&r.body).is_ok_and(|v| {
                v["type"] == "payment_intent.succeeded" && v["data"]["object"]["id"] == json!(pi)
            })
        })
        .cloned()
        .expect("the success was delivered");
    let id = delivered.headers["webhook-id"]
        .to_str()
        .expect("id")
        .to_owned();
    for headers in [
        delivered.headers.clone(),
        signed(&provider_secret(), &id, now(), &delivered.body),
    ] {
        let (status, _) = world.send(&headers, &delivered.body).await;
        assert_eq!(status, 204);
    }
    assert_eq!(
        world.count(booking, "innkeeper.payment.succeeded.v1").await,
        1,
        "one effect"
    );

    // A guest sees their own payment; anyone else is told it does not exist.
    let guest = Principal {
        user_id: created.guest_id,
        role: innkeeper_kernel::Role::Guest,
    };
    assert_eq!(
        world.client.get(&guest, created.id).await.expect("own").id,
        created.id
    );
    let stranger = Principal {
        user_id: UserId(Uuid::now_v7()),
        role: innkeeper_kernel::Role::Guest,
    };
    let hidden = world
        .client
        .get(&stranger, created.id)
        .await
        .expect_err("hidden");
    assert_eq!(hidden.code, ErrorCode::NotFound);
    let forbidden = world
        .client
        .create_intent(&guest, new_intent(Uuid::now_v7(), 100))
        .await
        .expect_err("guests do not create payments");
    assert_eq!(forbidden.code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_declined_payment_publishes_payment_failed_and_is_cancelled_at_the_provider() {
    let world = world(true).await;
    let booking = Uuid::now_v7();
    let created = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 9_900))
        .await
        .expect("intent");
    let pi = created.provider_intent_id.expect("provider id");
    assert_eq!(world.pay(&pi, "pm_card_chargeDeclined").await, 402);
    eventually("failed", async || {
        world.status(booking).await == PaymentStatus::Failed
    })
    .await;
    let events = world.events(booking).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "innkeeper.payment.failed.v1");
    assert_eq!(events[0].1["code"], "card_declined");
    assert_eq!(events[0].1["booking_id"], json!(booking));
    // No later attempt can take money for the cancelled booking.
    let provider = world.provider.service.clone();
    eventually("cancelled at the provider", async || {
        provider
            .get_intent(&pi)
            .await
            .expect("intent")
            .status
            .as_str()
            == "canceled"
    })
    .await;
    assert_eq!(world.pay(&pi, "pm_card_visa").await, 400);
    world.deliveries_settled().await;
    assert_eq!(world.status(booking).await, PaymentStatus::Failed);
    assert_eq!(world.events(booking).await.len(), 1);
}

#[tokio::test]
async fn a_refund_publishes_payment_refunded_once_per_key() {
    let world = world(true).await;
    let (booking, pi) = world.paid(20_000).await;
    let refund = world
        .client
        .refund(
            &booking_saga(),
            booking,
            eur(5_000),
            "cancellation",
            "cancel-1",
        )
        .await
        .expect("refund");
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert!(refund.provider_refund_id.is_some());
    let again = world
        .client
        .refund(
            &booking_saga(),
            booking,
            eur(5_000),
            "cancellation",
            "cancel-1",
        )
        .await
        .expect("same key");
    assert_eq!(again.id, refund.id);
    let reused = world
        .client
        .refund(
            &booking_saga(),
            booking,
            eur(6_000),
            "cancellation",
            "cancel-1",
        )
        .await
        .expect_err("same key, another amount");
    assert_eq!(reused.code, ErrorCode::Conflict);
    let too_much = world
        .client
        .refund(&booking_saga(), booking, eur(15_001), "goodwill", "k2")
        .await
        .expect_err("more than is left");
    assert_eq!(too_much.code, ErrorCode::ValidationFailed);
    assert_eq!(too_much.errors[0].field, "amount");

    world.deliveries_settled().await;
    let refunded: Vec<_> = world
        .events(booking)
        .await
        .into_iter()
        .filter(|(t, _)| t == "innkeeper.payment.refunded.v1")
        .collect();
    assert_eq!(refunded.len(), 1, "the refund.created webhook adds nothing");
    assert_eq!(refunded[0].1["amount"]["amount"], 5_000);
    assert_eq!(refunded[0].1["total_refunded"]["amount"], 5_000);
    let ledger = world
        .provider
        .service
        .store()
        .refunds(&pi)
        .await
        .expect("refunds");
    assert_eq!(ledger.len(), 1, "the provider refunded once");
    let payment = world
        .client
        .get_for_booking(&booking_saga(), booking)
        .await
        .expect("payment");
    assert_eq!(payment.amount_refunded, 5_000);
    assert_eq!(payment.refunds.len(), 1);
}

#[tokio::test]
async fn the_end_of_a_booking_cancels_or_refunds_its_payment() {
    let world = world(true).await;
    let provider = world.provider.service.clone();

    // Expired unpaid: cancelled here and at the provider.
    let unpaid = Uuid::now_v7();
    let intent = world
        .client
        .create_intent(&booking_saga(), new_intent(unpaid, 10_000))
        .await
        .expect("intent");
    let pi = intent.provider_intent_id.expect("id");
    let expired = Expired(Notice {
        booking_id: unpaid,
        data: json!({}),
    });
    world.booking_event(unpaid, &expired).await;
    assert_eq!(world.status(unpaid).await, PaymentStatus::Canceled);
    eventually("cancelled at the provider", async || {
        provider
            .get_intent(&pi)
            .await
            .expect("intent")
            .status
            .as_str()
            == "canceled"
    })
    .await;

    // Cancelled after payment: the policy's refund.
    let (late_cancel, _) = world.paid(30_000).await;
    let cancelled = Cancelled(Notice {
        booking_id: late_cancel,
        data: json!({"reason": "plans changed",
                     "refund": {"amount": {"amount": 15_000, "currency": "EUR"}, "rule": "late_cancellation"}}),
    });
    world.booking_event(late_cancel, &cancelled).await;
    eventually("refunded by policy", async || {
        world
            .count(late_cancel, "innkeeper.payment.refunded.v1")
            .await
            == 1
    })
    .await;
    let refunded = world.events(late_cancel).await;
    assert_eq!(refunded[1].1["amount"]["amount"], 15_000);
    assert_eq!(refunded[1].1["reason"], "cancellation");
    // The same event again (a redelivery the inbox missed) owes nothing more.
    world.booking_event(late_cancel, &cancelled).await;

    // Paid while the booking expired: all of it back.
    let (paid_expired, _) = world.paid(12_000).await;
    world
        .booking_event(
            paid_expired,
            &Expired(Notice {
                booking_id: paid_expired,
                data: json!({}),
            }),
        )
        .await;
    eventually("refunded in full", async || {
        world
            .count(paid_expired, "innkeeper.payment.refunded.v1")
            .await
            == 1
    })
    .await;
    assert_eq!(
        world.events(paid_expired).await[1].1["amount"]["amount"],
        12_000
    );
    world.deliveries_settled().await;
    assert_eq!(
        world
            .count(late_cancel, "innkeeper.payment.refunded.v1")
            .await,
        1
    );
}

#[tokio::test]
async fn money_that_comes_after_the_booking_expired_is_refunded_automatically() {
    // No worker: the provider is not told to cancel before the guest pays.
    let world = world(false).await;
    let booking = Uuid::now_v7();
    let intent = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 8_000))
        .await
        .expect("intent");
    let pi = intent.provider_intent_id.expect("id");
    world
        .booking_event(
            booking,
            &Expired(Notice {
                booking_id: booking,
                data: json!({}),
            }),
        )
        .await;
    assert_eq!(world.status(booking).await, PaymentStatus::Canceled);
    assert_eq!(world.pay(&pi, "pm_card_visa").await, 200);
    eventually("late success recorded", async || {
        world.status(booking).await == PaymentStatus::Succeeded
    })
    .await;
    let succeeded = world.events(booking).await;
    assert_eq!(succeeded[0].1["late"], true);
    worker::round(&world.payment.service).await.expect("round");
    assert_eq!(
        world.count(booking, "innkeeper.payment.refunded.v1").await,
        1
    );
    let refunds = world
        .provider
        .service
        .store()
        .refunds(&pi)
        .await
        .expect("refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, 8_000);
    // The cancellation the worker owed finds the intent paid: nothing more to do.
    worker::round(&world.payment.service).await.expect("round");
    assert!(
        world
            .payment
            .service
            .store()
            .due_cancels(time::OffsetDateTime::now_utc(), 10)
            .await
            .expect("due")
            .is_empty()
    );
}

#[tokio::test]
async fn the_saga_runs_the_same_on_postgresql() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let world = world_on(true, database).await;
    let (booking, pi) = world.paid(11_000).await;
    let cancelled = Cancelled(Notice {
        booking_id: booking,
        data: json!({"refund": {"amount": {"amount": 11_000, "currency": "EUR"}, "rule": "free_cancellation"}}),
    });
    world.booking_event(booking, &cancelled).await;
    eventually("refunded", async || {
        world.count(booking, "innkeeper.payment.refunded.v1").await == 1
    })
    .await;
    world.deliveries_settled().await;
    let types: Vec<String> = world
        .events(booking)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        types,
        [
            "innkeeper.payment.succeeded.v1",
            "innkeeper.payment.refunded.v1"
        ]
    );
    let refunds = world
        .provider
        .service
        .store()
        .refunds(&pi)
        .await
        .expect("refunds");
    assert_eq!(refunds.len(), 1);
    // Every delivery again: no second effect.
    let received = world.received.lock().expect("lock").clone();
    for message in &received {
        let (status, _) = world.send(&message.headers, &message.body).await;
        assert_eq!(status, 204);
    }
    assert_eq!(world.events(booking).await.len(), 2);
}
