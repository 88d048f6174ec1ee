//! The saga's payment side: a booking opens its payment before it is recorded, a provider
//! that is down fails the booking fast without a hold left behind, and the payment service's
//! `failed` and `refunded` events cancel the booking and record refunds.

use std::sync::atomic::Ordering;

use innkeeper_events::Payload as _;

use super::*;
use crate::contracts::{PaymentFailed, PaymentRefunded};

const PAYMENT: Outbox = Outbox::new("/innkeeper/payment", PAYMENT_TOPIC);

fn payment_failed(booking: &Booking, payment_id: uuid::Uuid) -> innkeeper_events::Event {
    PAYMENT
        .event(
            booking.id,
            &PaymentFailed {
                payment_id,
                booking_id: booking.id.as_uuid(),
                code: "card_declined".to_owned(),
            },
        )
        .expect("event")
}

fn payment_refunded(
    booking: &Booking,
    refund_id: uuid::Uuid,
    amount: i64,
    total: i64,
) -> innkeeper_events::Event {
    PAYMENT
        .event(
            booking.id,
            &PaymentRefunded {
                payment_id: booking.payment.payment_id.expect("a payment"),
                booking_id: booking.id.as_uuid(),
                refund_id,
                amount: eur(amount),
                total_refunded: eur(total),
                reason: "cancellation".to_owned(),
            },
        )
        .expect("event")
}

pub(super) async fn a_booking_opens_its_payment_and_keeps_the_checkout_link(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let intent = world
        .payment_service
        .intent_of(booking.id.as_uuid())
        .expect("an intent per booking");
    assert_eq!(intent.amount, booking.price.total);
    assert_eq!(intent.guest_id, ana.user_id);
    assert_eq!(intent.reference, booking.reference.as_str());
    assert!(
        intent
            .return_url
            .ends_with(&format!("/bookings/{}", booking.id)),
        "{}",
        intent.return_url
    );
    assert_eq!(
        world.payment_service.callers.lock().expect("lock").last(),
        Some(&Principal::service("booking")),
        "the booking service opens payments as itself"
    );
    assert_eq!(booking.payment.status, PaymentState::AwaitingPayment);
    assert_eq!(booking.payment.payment_id, Some(intent.id.0));
    assert_eq!(booking.payment.checkout_url, intent.checkout_url);
    // The link is the created event's: a read and the history give it back.
    let read = world.bookings.get(&ana, booking.id).await.expect("get");
    assert_eq!(read, booking);
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    assert_eq!(
        history[0].data["payment"]["checkout_url"].as_str(),
        intent.checkout_url.as_deref()
    );
    // Paid: the link stays, the status moves.
    world
        .dispatcher()
        .deliver(&payment_succeeded(booking.id, 25_800))
        .await
        .expect("payment");
    let paid = world.bookings.get(&ana, booking.id).await.expect("get");
    assert_eq!(paid.payment.status, PaymentState::Paid);
    assert_eq!(paid.payment.checkout_url, intent.checkout_url);
}

pub(super) async fn a_provider_down_fails_the_booking_fast_and_holds_nothing(world: World) {
    world.payment_service.down.store(true, Ordering::SeqCst);
    let ana = guest();
    let err = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect_err("provider down");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert_eq!(err.code.http_status(), 503);
    assert_eq!(
        world.nights().await,
        vec![(3, 0, 0), (3, 0, 0)],
        "no hold left"
    );
    let listed = world
        .bookings
        .list(&ana, BookingQuery::default())
        .await
        .expect("list");
    assert!(listed.items.is_empty(), "nothing recorded");
    // Back up: the next booking goes through.
    world.payment_service.down.store(false, Ordering::SeqCst);
    world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    assert_eq!(world.nights().await, vec![(3, 1, 0), (3, 1, 0)]);
}

pub(super) async fn a_keyed_booking_keeps_its_hold_for_the_retry_when_the_provider_is_down(
    world: World,
) {
    world.payment_service.down.store(true, Ordering::SeqCst);
    let ana = guest();
    let err = world
        .bookings
        .create(&ana, world.request(), key("pay-later"))
        .await
        .result
        .expect_err("provider down");
    assert_eq!(err.code, ErrorCode::Unavailable);
    // The retry runs on the same booking id and finds this hold (or its TTL ends it).
    assert_eq!(world.nights().await, vec![(3, 1, 0), (3, 1, 0)]);
    world.payment_service.down.store(false, Ordering::SeqCst);
    let answer = world
        .bookings
        .create(&ana, world.request(), key("pay-later"))
        .await;
    assert!(!answer.replayed, "a 503 is not stored as the answer");
    let booking = answer.result.expect("retried");
    assert_eq!(world.nights().await, vec![(3, 1, 0), (3, 1, 0)], "one hold");
    assert!(booking.payment.checkout_url.is_some());
    assert_eq!(
        world.payment_service.intents.lock().expect("lock").len(),
        1,
        "one payment"
    );
}

pub(super) async fn a_declined_payment_cancels_the_booking_and_gives_the_rooms_back(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let payment_id = booking.payment.payment_id.expect("payment");
    let declined = payment_failed(&booking, payment_id);
    assert_eq!(declined.event_type, PaymentFailed::TYPE);
    let dispatcher = world.dispatcher();
    assert_eq!(
        dispatcher.deliver(&declined).await.expect("failed"),
        Delivery::Handled
    );
    assert_eq!(
        dispatcher.deliver(&declined).await.expect("again"),
        Delivery::Duplicate
    );
    let cancelled = world.bookings.get(&ana, booking.id).await.expect("get");
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(cancelled.payment.status, PaymentState::Failed);
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    assert_eq!(history[1].data["reason"], "payment_failed");
    assert_eq!(history[1].actor, Actor::service("payment"));
    // The cancellation gives the hold back through the release consumer, as any does.
    let releases = world.dispatcher_of(world.hold_releases.clone());
    for event in outbox_events(&world.booking_db.db).await {
        releases.deliver(&event).await.expect("deliver");
    }
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
    // A decline after the booking was paid changes nothing (another event id).
    let (bea, paid) = world.paid_booking().await;
    let late = payment_failed(&paid, uuid::Uuid::now_v7());
    assert_eq!(
        world.dispatcher().deliver(&late).await.expect("late"),
        Delivery::Handled
    );
    let still = world.bookings.get(&bea, paid.id).await.expect("get");
    assert_eq!(still.status, BookingStatus::Confirmed);
}

pub(super) async fn refunds_are_recorded_on_the_booking_once(world: World) {
    let (ana, paid) = world.paid_booking().await;
    let cancelled = world
        .bookings
        .cancel(&ana, paid.id, None, None, None)
        .await
        .result
        .expect("cancel");
    let refund = cancelled.refund.expect("a refund");
    let refund_id = uuid::Uuid::now_v7();
    let refunded = payment_refunded(&paid, refund_id, refund.amount.amount, refund.amount.amount);
    let dispatcher = world.dispatcher();
    assert_eq!(
        dispatcher.deliver(&refunded).await.expect("refunded"),
        Delivery::Handled
    );
    // The same refund in another message (a redelivery under another event id) is known.
    let again = payment_refunded(&paid, refund_id, refund.amount.amount, refund.amount.amount);
    assert_eq!(
        dispatcher.deliver(&again).await.expect("again"),
        Delivery::Handled
    );
    let booking = world.bookings.get(&ana, paid.id).await.expect("get");
    assert_eq!(booking.status, BookingStatus::Cancelled, "status unchanged");
    assert_eq!(booking.payment.status, PaymentState::Refunded);
    assert_eq!(booking.payment.refunded, Some(refund.amount));
    assert_eq!(booking.version, cancelled.version + 1, "recorded once");
    let history = world
        .bookings
        .history(&ana, paid.id)
        .await
        .expect("history");
    let last = history.last().expect("events");
    assert_eq!(last.event_type, "refunded");
    assert_eq!(last.data["amount"]["amount"], refund.amount.amount);
    // The published event says so too.
    let published = outbox_events(&world.booking_db.db).await;
    assert_eq!(
        published.last().map(|e| e.event_type.as_str()),
        Some("innkeeper.booking.refunded.v1")
    );
}
