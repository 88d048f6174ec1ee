//! The saga: payment, cancellation, expiry, and holds given back even after a crash.

use super::*;

pub(super) async fn cancelling_releases_the_rooms_and_records_the_refund(world: World) {
    let ana = guest();
    let unpaid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    // Someone else's guest cannot cancel it (nor learn it exists).
    let err = world
        .bookings
        .cancel(&guest(), unpaid.id, None, None, None)
        .await
        .result
        .expect_err("not theirs");
    assert_eq!(err.code, ErrorCode::NotFound);
    // A stale If-Match.
    let err = world
        .bookings
        .cancel(&ana, unpaid.id, Some(7), None, None)
        .await
        .result
        .expect_err("stale");
    assert_eq!(err.code, ErrorCode::VersionMismatch);
    let cancelled = world
        .bookings
        .cancel(
            &ana,
            unpaid.id,
            Some(1),
            Some(" plans changed ".to_owned()),
            None,
        )
        .await
        .result
        .expect("cancel");
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(cancelled.version, 2);
    assert_eq!(
        cancelled.refund,
        Some(Refund {
            amount: eur(0),
            rule: RefundRule::NothingPaid
        })
    );
    let hold = world.catalog.get_hold(unpaid.hold_id).await.expect("hold");
    assert_eq!(hold.status, HoldStatus::Released);
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
    let err = world
        .bookings
        .cancel(&ana, unpaid.id, None, None, None)
        .await
        .result
        .expect_err("twice");
    assert_eq!(err.code, ErrorCode::InvalidState);
    assert!(err.message.contains("cancelled"), "{}", err.message);

    // Paid, then cancelled by the hotel's owner a day before arrival: 50 % back.
    let paid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let delivery = world
        .dispatcher()
        .deliver(&payment_succeeded(paid.id, 25_800))
        .await
        .expect("deliver");
    assert_eq!(delivery, Delivery::Handled);
    world
        .clock
        .advance(CHECK_IN - Duration::days(1) - T0.date());
    let cancelled = world
        .bookings
        .cancel(&world.owner, paid.id, None, None, None)
        .await
        .result
        .expect("owner cancels");
    assert_eq!(
        cancelled.refund,
        Some(Refund {
            amount: eur(12_900),
            rule: RefundRule::LateCancellation
        })
    );
    assert_eq!(
        world
            .catalog
            .get_hold(paid.hold_id)
            .await
            .expect("hold")
            .status,
        HoldStatus::Released
    );
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
    let history = world
        .bookings
        .history(&ana, paid.id)
        .await
        .expect("history");
    let types: Vec<&str> = history.iter().map(|h| h.event_type.as_str()).collect();
    assert_eq!(types, ["created", "confirmed", "cancelled"]);
    assert_eq!(history[1].actor, Actor::service("payment"));
    assert_eq!(history[2].actor, Actor::user(&world.owner));
}

pub(super) async fn payment_succeeded_confirms_the_booking_and_sells_the_hold_once(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let dispatcher = world.dispatcher();
    let paid = payment_succeeded(booking.id, 25_800);
    assert_eq!(
        dispatcher.deliver(&paid).await.expect("deliver"),
        Delivery::Handled
    );
    assert_eq!(
        dispatcher.deliver(&paid).await.expect("again"),
        Delivery::Duplicate
    );
    // A second payment event for the same booking (another id) changes nothing either.
    let another = payment_succeeded(booking.id, 25_800);
    assert_eq!(
        dispatcher.deliver(&another).await.expect("another"),
        Delivery::Handled
    );

    let confirmed = world.bookings.get(&ana, booking.id).await.expect("get");
    assert_eq!(confirmed.status, BookingStatus::Confirmed);
    assert_eq!(confirmed.payment.status, PaymentState::Paid);
    assert_eq!(confirmed.paid, eur(25_800));
    assert_eq!(confirmed.version, 2);
    let hold = world.catalog.get_hold(booking.hold_id).await.expect("hold");
    assert_eq!(hold.status, HoldStatus::Confirmed);
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);

    // A payment for a booking that does not exist cannot be handled: dead letter.
    let stray = payment_succeeded(BookingId::new(), 100);
    assert_eq!(
        dispatcher.deliver(&stray).await.expect("stray"),
        Delivery::DeadLettered
    );
    // Unless it is late money for a booking never recorded (an orphaned payment the payment
    // service swept): it is refunded, and neither event needs a booking.
    const PAYMENT: Outbox = Outbox::new("/innkeeper/payment", PAYMENT_TOPIC);
    let never_recorded = BookingId::new();
    let orphan_paid = PAYMENT
        .event(
            never_recorded,
            &crate::contracts::PaymentSucceeded {
                payment_id: uuid::Uuid::now_v7(),
                booking_id: never_recorded.as_uuid(),
                amount: eur(100),
                late: true,
            },
        )
        .expect("event");
    let orphan_refunded = PAYMENT
        .event(
            never_recorded,
            &crate::contracts::PaymentRefunded {
                payment_id: uuid::Uuid::now_v7(),
                booking_id: never_recorded.as_uuid(),
                refund_id: uuid::Uuid::now_v7(),
                amount: eur(100),
                total_refunded: eur(100),
                reason: "late_payment".to_owned(),
            },
        )
        .expect("event");
    for event in [orphan_paid, orphan_refunded] {
        assert_eq!(
            dispatcher.deliver(&event).await.expect("orphan"),
            Delivery::Handled
        );
    }

    // Paid after the hold lapsed: the booking expires instead (payment refunds later).
    let late = world
        .bookings
        .create(&guest(), world.request(), None)
        .await
        .result
        .expect("create");
    world.clock.advance(Duration::minutes(16));
    assert_eq!(
        dispatcher
            .deliver(&payment_succeeded(late.id, 25_800))
            .await
            .expect("late"),
        Delivery::Handled
    );
    let expired = world
        .bookings
        .get(&world.owner, late.id)
        .await
        .expect("get");
    assert_eq!(expired.status, BookingStatus::Expired);
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);
}

pub(super) async fn a_hold_the_catalog_expires_expires_its_unpaid_booking(world: World) {
    let ana = guest();
    let unpaid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let paid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let delivered = world
        .dispatcher()
        .deliver(&payment_succeeded(paid.id, 25_800))
        .await
        .expect("payment");
    assert_eq!(delivered, Delivery::Handled);
    world.clock.advance(Duration::minutes(16));
    let expired = world.catalog.expire_due_holds(100).await.expect("sweep");
    assert_eq!(expired.len(), 1, "only the unpaid booking's hold");
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);

    // Every event the catalog published goes to the consumer, as the bus or Kafka would.
    let expiries = world.dispatcher_of(world.hold_expiries.clone());
    let events = outbox_events(&world.catalog_db.db).await;
    assert!(
        events.len() >= 4,
        "placed, placed, confirmed, expired: {}",
        events.len()
    );
    // Only the expiry is this consumer's; the other changes cost it nothing.
    let expiry = |event: &innkeeper_events::Event| {
        event
            .decode::<innkeeper_events::contracts::catalog::InventoryChanged>()
            .is_ok_and(|c| {
                c.cause == innkeeper_events::contracts::catalog::InventoryCause::HoldExpired
            })
    };
    assert_eq!(events.iter().filter(|e| expiry(e)).count(), 1);
    for event in &events {
        let (first, again) = if expiry(event) {
            (Delivery::Handled, Delivery::Duplicate)
        } else {
            (Delivery::Ignored, Delivery::Ignored)
        };
        assert_eq!(expiries.deliver(event).await.expect("deliver"), first);
        assert_eq!(expiries.deliver(event).await.expect("again"), again);
    }
    let now_expired = world.bookings.get(&ana, unpaid.id).await.expect("get");
    assert_eq!(now_expired.status, BookingStatus::Expired);
    assert_eq!(now_expired.version, 2);
    let history = world
        .bookings
        .history(&ana, unpaid.id)
        .await
        .expect("history");
    assert_eq!(history[1].actor, Actor::service("catalog.hold_expiry"));
    let still_paid = world.bookings.get(&ana, paid.id).await.expect("get");
    assert_eq!(still_paid.status, BookingStatus::Confirmed);
    // Nothing was given back twice: the rooms the expiry freed are free once.
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);
    // A payment arriving now finds the booking expired and changes nothing.
    let late = world
        .dispatcher()
        .deliver(&payment_succeeded(unpaid.id, 25_800))
        .await
        .expect("late payment");
    assert_eq!(late, Delivery::Handled);
    assert_eq!(
        world
            .bookings
            .get(&ana, unpaid.id)
            .await
            .expect("get")
            .version,
        2
    );
}

pub(super) async fn holds_come_back_even_when_the_release_after_a_change_is_lost(world: World) {
    use crate::domain::booking as rules;
    use crate::store::Append;

    let record = |decided: rules::Decided| Append {
        expected_version: decided.event.version - 1,
        events: vec![decided.event],
        booking: decided.booking,
        idempotency: None,
        assignment: Vec::new(),
    };
    // A paid booking cancelled by a process that dies before giving the (sold) hold back.
    let (ana, paid) = world.paid_booking().await;
    let paid = world.bookings.get(&ana, paid.id).await.expect("get");
    let cancelled = rules::cancel(&paid, None, T0.date(), Actor::user(&ana), T0).expect("cancel");
    world
        .bookings
        .store
        .append(&record(cancelled))
        .await
        .expect("append");
    assert_eq!(
        world.nights().await,
        vec![(3, 0, 1), (3, 0, 1)],
        "still sold"
    );

    // An unpaid booking moved by a process that dies after holding the new stay.
    let bea = guest();
    let unpaid = world
        .bookings
        .create(&bea, world.request(), None)
        .await
        .result
        .expect("create");
    let later = CHECK_IN + Duration::days(7);
    let stay =
        innkeeper_kernel::StayDates::from_stored(later, later + Duration::days(1)).expect("stay");
    let new_hold = world
        .catalog
        .place_hold(innkeeper_catalog::api::PlaceHold {
            hold_id: innkeeper_kernel::HoldId::new(),
            room_type_id: world.room_type_id,
            stay,
            quantity: 1,
            ttl_seconds: 900,
        })
        .await
        .expect("new hold");
    let terms = rules::NewTerms {
        room_type_id: world.room_type_id,
        hold_id: new_hold.id,
        stay,
        guests: 2,
        rooms: 1,
        price: crate::fixtures::price(later, 1, 12_900, 1),
        hold_expires_at: new_hold.expires_at,
    };
    let settles = rules::payable(&unpaid, terms.price.total).expect("payable");
    let moved = rules::modify(
        &unpaid,
        terms,
        (settles, None),
        T0.date(),
        Actor::user(&bea),
        T0,
    )
    .expect("modify");
    world
        .bookings
        .store
        .append(&record(moved))
        .await
        .expect("append");
    assert_eq!(
        world.nights().await,
        vec![(3, 1, 1), (3, 1, 1)],
        "old hold still held"
    );

    // The service's own events bring every hold back, once.
    let releases = world.dispatcher_of(world.hold_releases.clone());
    let events = outbox_events(&world.booking_db.db).await;
    for event in &events {
        // Handled, or not one that ends or replaces a hold (`created`, `confirmed`).
        let delivered = releases.deliver(event).await.expect("deliver");
        assert!(
            matches!(delivered, Delivery::Handled | Delivery::Ignored),
            "{delivered:?}"
        );
    }
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
    assert_eq!(
        world.nights_of(later, later + Duration::days(1)).await,
        vec![(3, 1, 0)]
    );
    assert_eq!(
        world
            .catalog
            .get_hold(new_hold.id)
            .await
            .expect("new")
            .status,
        HoldStatus::Held,
        "the new hold stays"
    );
    for event in &events {
        let again = releases.deliver(event).await.expect("again");
        assert!(
            matches!(again, Delivery::Duplicate | Delivery::Ignored),
            "{again:?}"
        );
    }
    // Releases that already happened in the request are not repeated either.
    let carl = guest();
    let third = world
        .bookings
        .create(&carl, world.request(), None)
        .await
        .result
        .expect("create");
    world
        .bookings
        .cancel(&carl, third.id, None, None, None)
        .await
        .result
        .expect("cancel");
    for event in outbox_events(&world.booking_db.db)
        .await
        .iter()
        .skip(events.len())
    {
        // Handled, or not one that ends or replaces a hold (`created`, `confirmed`).
        let delivered = releases.deliver(event).await.expect("deliver");
        assert!(
            matches!(delivered, Delivery::Handled | Delivery::Ignored),
            "{delivered:?}"
        );
    }
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
}
