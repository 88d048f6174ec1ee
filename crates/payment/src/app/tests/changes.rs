//! Changes of bookings settled against the provider: a cheaper stay refunds the difference, a
//! dearer one is paid through a balance, an unpaid booking's new price replaces its payment;
//! and payments no booking event ever named are swept.

use super::*;
use crate::api::IntentPurpose;

/// The payment of a booking's change to version `modification`.
fn change_intent(
    booking_id: Uuid,
    modification: i64,
    purpose: IntentPurpose,
    amount: i64,
) -> NewIntent {
    NewIntent {
        purpose,
        modification: Some(modification),
        ..new_intent(booking_id, amount)
    }
}

/// `modified` at `version`, settling as `settlement` says (the booking's data).
fn modified(booking_id: Uuid, version: i64, settlement: Value) -> Modified {
    Modified(VersionedNotice {
        booking_id,
        version,
        data: settlement,
    })
}

impl World {
    /// The provider's ledger of an intent: `(captures, refunds)` in minor units, and the
    /// number of captures.
    async fn ledger(&self, provider_intent: &str) -> (i64, i64, usize) {
        let entries = self
            .provider
            .service
            .store()
            .ledger(Some(provider_intent))
            .await
            .expect("ledger");
        let mut totals = (0, 0, 0);
        for entry in entries {
            // Refund entries name their refund; captures do not.
            if entry.refund_id.is_some() {
                totals.1 += entry.amount;
            } else {
                totals.0 += entry.amount;
                totals.2 += 1;
            }
        }
        totals
    }

    async fn intent_of_change(
        &self,
        booking_id: Uuid,
        modification: i64,
    ) -> crate::store::StoredIntent {
        self.payment
            .service
            .store()
            .intent_for_change(booking_id, modification)
            .await
            .expect("read")
            .expect("the change's payment")
    }

    async fn provider_status(&self, provider_intent: &str) -> String {
        self.provider
            .service
            .get_intent(provider_intent)
            .await
            .expect("intent")
            .status
            .as_str()
            .to_owned()
    }
}

#[tokio::test]
async fn a_cheaper_stay_refunds_the_difference_once() {
    let world = world(true).await;
    let (booking, pi) = world.paid(30_000).await;
    let cheaper = modified(
        booking,
        4,
        json!({"price_difference": -12_000, "refund_due": {"amount": 12_000, "currency": "EUR"}}),
    );
    world.booking_event(booking, &cheaper).await;
    eventually("refunded", async || {
        world.count(booking, "innkeeper.payment.refunded.v1").await == 1
    })
    .await;
    let refunded = world.events(booking).await;
    assert_eq!(refunded[1].1["amount"]["amount"], 12_000);
    assert_eq!(refunded[1].1["reason"], "modification");
    // Delivered again (the inbox missed it): the change's key owes nothing more.
    world.booking_event(booking, &cheaper).await;
    world.deliveries_settled().await;
    assert_eq!(
        world.count(booking, "innkeeper.payment.refunded.v1").await,
        1
    );
    assert_eq!(world.ledger(&pi).await, (30_000, 12_000, 1));
    let payment = world
        .client
        .get_for_booking(&booking_saga(), booking)
        .await
        .expect("payment");
    assert_eq!(payment.amount_refunded, 12_000);
    assert_eq!(payment.refunds[0].key, "modification-4");

    // Cancelled later: the policy's refund of what is left, never more.
    let cancelled = Cancelled(Notice {
        booking_id: booking,
        data: json!({"refund": {"amount": {"amount": 18_000, "currency": "EUR"}, "rule": "free_cancellation"},
                     "paid": {"amount": 18_000, "currency": "EUR"}}),
    });
    world.booking_event(booking, &cancelled).await;
    eventually("cancellation refunded", async || {
        world.count(booking, "innkeeper.payment.refunded.v1").await == 2
    })
    .await;
    world.deliveries_settled().await;
    assert_eq!(world.ledger(&pi).await, (30_000, 30_000, 1));
}

#[tokio::test]
async fn a_dearer_stay_is_paid_through_a_balance_that_a_decline_leaves_payable() {
    let world = world(true).await;
    let (booking, pi) = world.paid(20_000).await;
    let balance = world
        .client
        .create_intent(
            &booking_saga(),
            change_intent(booking, 3, IntentPurpose::Balance, 5_000),
        )
        .await
        .expect("balance");
    assert_eq!(balance.purpose, IntentPurpose::Balance);
    assert_eq!(balance.amount, eur(5_000));
    assert_ne!(balance.provider_intent_id.as_deref(), Some(pi.as_str()));
    let again = world
        .client
        .create_intent(
            &booking_saga(),
            change_intent(booking, 3, IntentPurpose::Balance, 5_000),
        )
        .await
        .expect("idempotent per change");
    assert_eq!(again.id, balance.id);
    let other = world
        .client
        .create_intent(
            &booking_saga(),
            change_intent(booking, 3, IntentPurpose::Balance, 6_000),
        )
        .await
        .expect_err("another amount for the same change");
    assert_eq!(other.code, ErrorCode::Conflict);
    world
        .booking_event(
            booking,
            &modified(
                booking,
                3,
                json!({"price_difference": 5_000, "balance_due": {"amount": 5_000, "currency": "EUR"},
                       "payment": {"payment_id": balance.id, "checkout_url": balance.checkout_url}}),
            ),
        )
        .await;
    assert!(
        world
            .intent_of_change(booking, 3)
            .await
            .adopted_at
            .is_some(),
        "named by the change"
    );

    let balance_pi = balance.provider_intent_id.clone().expect("provider id");
    assert_eq!(world.pay(&balance_pi, "pm_card_chargeDeclined").await, 402);
    world.deliveries_settled().await;
    let declined = world.intent_of_change(booking, 3).await;
    assert_eq!(declined.intent.status, PaymentStatus::RequiresPayment);
    assert_eq!(
        declined.intent.failure_code.as_deref(),
        Some("card_declined")
    );
    assert_eq!(
        world.count(booking, "innkeeper.payment.failed.v1").await,
        0,
        "nothing for the booking to undo"
    );
    assert_eq!(
        world.provider_status(&balance_pi).await,
        "requires_payment_method"
    );

    assert_eq!(world.pay(&balance_pi, "pm_card_visa").await, 200);
    eventually("balance paid", async || {
        world.intent_of_change(booking, 3).await.intent.status == PaymentStatus::Succeeded
    })
    .await;
    let succeeded: Vec<Value> = world
        .events(booking)
        .await
        .into_iter()
        .filter(|(t, _)| t == "innkeeper.payment.succeeded.v1")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(succeeded.len(), 2);
    assert_eq!(succeeded[1]["payment_id"], json!(balance.id.0));
    assert_eq!(succeeded[1]["amount"]["amount"], 5_000);
    assert_eq!(succeeded[1]["late"], false);
    // The booking's payment is still its price's.
    let own = world
        .client
        .get_for_booking(&booking_saga(), booking)
        .await
        .expect("payment");
    assert_eq!(own.provider_intent_id.as_deref(), Some(pi.as_str()));

    // Cancelled free: everything paid comes back, from both payments.
    let cancelled = Cancelled(Notice {
        booking_id: booking,
        data: json!({"refund": {"amount": {"amount": 25_000, "currency": "EUR"}, "rule": "free_cancellation"},
                     "paid": {"amount": 25_000, "currency": "EUR"}}),
    });
    world.booking_event(booking, &cancelled).await;
    eventually("both refunded", async || {
        world.count(booking, "innkeeper.payment.refunded.v1").await == 2
    })
    .await;
    world.deliveries_settled().await;
    assert_eq!(world.ledger(&pi).await, (20_000, 20_000, 1));
    assert_eq!(world.ledger(&balance_pi).await, (5_000, 5_000, 1));
}

#[tokio::test]
async fn an_open_balance_is_given_up_at_check_in_and_by_a_change_that_owes_nothing() {
    let world = world(true).await;
    let (booking, _) = world.paid(20_000).await;
    let first = world
        .client
        .create_intent(
            &booking_saga(),
            change_intent(booking, 3, IntentPurpose::Balance, 5_000),
        )
        .await
        .expect("balance");
    // A change back to the price paid: the balance is no longer owed.
    world
        .booking_event(
            booking,
            &modified(
                booking,
                4,
                json!({"price_difference": -5_000, "superseded": [first.id]}),
            ),
        )
        .await;
    assert_eq!(
        world.intent_of_change(booking, 3).await.intent.status,
        PaymentStatus::Canceled
    );
    let first_pi = first.provider_intent_id.expect("provider id");
    eventually("cancelled at the provider", async || {
        world.provider_status(&first_pi).await == "canceled"
    })
    .await;
    // Another balance, still open at check-in: the front desk settles it.
    let second = world
        .client
        .create_intent(
            &booking_saga(),
            change_intent(booking, 5, IntentPurpose::Balance, 3_000),
        )
        .await
        .expect("balance");
    world
        .booking_event(
            booking,
            &CheckedIn(Notice {
                booking_id: booking,
                data: json!({"room_ids": []}),
            }),
        )
        .await;
    assert_eq!(
        world.intent_of_change(booking, 5).await.intent.status,
        PaymentStatus::Canceled
    );
    let second_pi = second.provider_intent_id.expect("provider id");
    eventually("cancelled at the provider", async || {
        world.provider_status(&second_pi).await == "canceled"
    })
    .await;
    assert_eq!(
        world.status(booking).await,
        PaymentStatus::Succeeded,
        "the price stays paid"
    );
}

#[tokio::test]
async fn an_unpaid_bookings_new_price_replaces_its_payment_and_money_for_the_old_one_goes_back() {
    // No worker: the old intent is not cancelled at the provider before the guest pays it.
    let world = world(false).await;
    let booking = Uuid::now_v7();
    let old = world
        .client
        .create_intent(&booking_saga(), new_intent(booking, 10_000))
        .await
        .expect("intent");
    let new = world
        .client
        .create_intent(
            &booking_saga(),
            change_intent(booking, 2, IntentPurpose::Booking, 14_000),
        )
        .await
        .expect("new price");
    assert_ne!(new.checkout_url, old.checkout_url);
    world
        .booking_event(
            booking,
            &modified(
                booking,
                2,
                json!({"price_difference": 4_000, "superseded": [old.id],
                       "payment": {"payment_id": new.id, "checkout_url": new.checkout_url}}),
            ),
        )
        .await;
    let replaced = world.intent_of_change(booking, 0).await;
    assert_eq!(replaced.intent.status, PaymentStatus::Canceled);
    assert_eq!(
        world
            .client
            .get_for_booking(&booking_saga(), booking)
            .await
            .expect("payment")
            .id,
        new.id,
        "the booking's payment is the new price's"
    );
    // The guest pays the old link before the provider heard of the cancellation: late money,
    // refunded in full.
    let old_pi = old.provider_intent_id.expect("provider id");
    assert_eq!(world.pay(&old_pi, "pm_card_visa").await, 200);
    eventually("late success recorded", async || {
        world.intent_of_change(booking, 0).await.intent.status == PaymentStatus::Succeeded
    })
    .await;
    let late: Vec<Value> = world
        .events(booking)
        .await
        .into_iter()
        .filter(|(t, _)| t == "innkeeper.payment.succeeded.v1")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(late[0]["late"], true);
    worker::round(&world.payment.service).await.expect("round");
    assert_eq!(world.ledger(&old_pi).await, (10_000, 10_000, 1));
    // The new one pays normally.
    let new_pi = new.provider_intent_id.expect("provider id");
    assert_eq!(world.pay(&new_pi, "pm_card_visa").await, 200);
    eventually("new price paid", async || {
        world.status(booking).await == PaymentStatus::Succeeded
    })
    .await;
    assert_eq!(world.ledger(&new_pi).await, (14_000, 0, 1));
}

#[tokio::test]
async fn payments_no_booking_event_named_are_swept_and_late_money_for_them_refunded() {
    let world = world(false).await;
    let adopted = Uuid::now_v7();
    let named = world
        .client
        .create_intent(&booking_saga(), new_intent(adopted, 7_000))
        .await
        .expect("intent");
    world
        .booking_event(
            adopted,
            &Created(Notice {
                booking_id: adopted,
                data: json!({"payment": {"payment_id": named.id, "checkout_url": named.checkout_url}}),
            }),
        )
        .await;
    let orphaned = Uuid::now_v7();
    let orphan = world
        .client
        .create_intent(&booking_saga(), new_intent(orphaned, 9_000))
        .await
        .expect("intent");
    let service = &world.payment.service;
    // Younger than the cut: nothing swept yet.
    let before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    assert_eq!(
        worker::sweep_orphans(service, before).await.expect("sweep"),
        0
    );
    assert_eq!(world.status(orphaned).await, PaymentStatus::RequiresPayment);
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert_eq!(
        worker::sweep_orphans(service, later).await.expect("sweep"),
        1
    );
    assert_eq!(world.status(orphaned).await, PaymentStatus::Canceled);
    assert_eq!(
        world.status(adopted).await,
        PaymentStatus::RequiresPayment,
        "named: kept"
    );
    assert_eq!(
        worker::sweep_orphans(service, later).await.expect("sweep"),
        0,
        "once"
    );

    // Paid before the provider was told: refunded in full.
    let orphan_pi = orphan.provider_intent_id.expect("provider id");
    assert_eq!(world.pay(&orphan_pi, "pm_card_visa").await, 200);
    eventually("late success recorded", async || {
        world.status(orphaned).await == PaymentStatus::Succeeded
    })
    .await;
    worker::round(service).await.expect("round");
    assert_eq!(world.ledger(&orphan_pi).await, (9_000, 9_000, 1));
    assert_eq!(
        world.count(orphaned, "innkeeper.payment.refunded.v1").await,
        1
    );

    // Another orphan, swept and then cancelled at the provider by the round: its link is dead.
    let unrecorded = Uuid::now_v7();
    let dead = world
        .client
        .create_intent(&booking_saga(), new_intent(unrecorded, 4_000))
        .await
        .expect("intent");
    worker::sweep_orphans(service, later).await.expect("sweep");
    worker::round(service).await.expect("round");
    let dead_pi = dead.provider_intent_id.expect("provider id");
    assert_eq!(world.provider_status(&dead_pi).await, "canceled");
    assert_eq!(world.pay(&dead_pi, "pm_card_visa").await, 400);
}

#[tokio::test]
async fn changes_settle_the_same_on_postgresql() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let world = world_on(true, database).await;
    let (booking, pi) = world.paid(30_000).await;
    world
        .booking_event(
            booking,
            &modified(
                booking,
                3,
                json!({"refund_due": {"amount": 10_000, "currency": "EUR"}}),
            ),
        )
        .await;
    eventually("refunded", async || {
        world.count(booking, "innkeeper.payment.refunded.v1").await == 1
    })
    .await;
    let balance = world
        .client
        .create_intent(
            &booking_saga(),
            change_intent(booking, 4, IntentPurpose::Balance, 2_500),
        )
        .await
        .expect("balance");
    let balance_pi = balance.provider_intent_id.expect("provider id");
    assert_eq!(world.pay(&balance_pi, "pm_card_visa").await, 200);
    eventually("balance paid", async || {
        world.intent_of_change(booking, 4).await.intent.status == PaymentStatus::Succeeded
    })
    .await;
    world.deliveries_settled().await;
    assert_eq!(world.ledger(&pi).await, (30_000, 10_000, 1));
    assert_eq!(world.ledger(&balance_pi).await, (2_500, 0, 1));
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    // Neither was named by a booking event here, but neither is payable: nothing to sweep.
    assert_eq!(
        worker::sweep_orphans(&world.payment.service, later)
            .await
            .expect("sweep"),
        0
    );
}
