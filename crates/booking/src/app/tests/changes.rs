//! Modifying a booking.

use super::*;

pub(super) async fn a_guest_moves_a_stay_new_hold_first_old_hold_after(world: World) {
    let ana = guest();
    let unpaid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let later = CHECK_IN + Duration::days(7);
    let patch = BookingPatch {
        check_in: Some(later),
        check_out: Some(later + Duration::days(3)),
        ..BookingPatch::default()
    };
    // If-Match is required, and must be current.
    let err = world
        .bookings
        .modify(&ana, unpaid.id, None, patch.clone(), None)
        .await
        .result;
    assert_eq!(
        err.expect_err("no If-Match").code,
        ErrorCode::PreconditionRequired
    );
    let err = world
        .bookings
        .modify(&ana, unpaid.id, Some(5), patch.clone(), None)
        .await
        .result;
    assert_eq!(err.expect_err("stale").code, ErrorCode::VersionMismatch);
    // The hotel's owner sees the booking but does not change it.
    let err = world
        .bookings
        .modify(&world.owner, unpaid.id, Some(1), patch.clone(), None)
        .await;
    assert_eq!(err.result.expect_err("owner").code, ErrorCode::Forbidden);

    let moved = world
        .bookings
        .modify(&ana, unpaid.id, Some(1), patch.clone(), None)
        .await
        .result
        .expect("modify");
    assert_eq!(moved.version, 2);
    assert_eq!(moved.status, BookingStatus::PendingPayment);
    assert_eq!(moved.stay.check_in(), later);
    assert_eq!(moved.price.total, eur(3 * 12_900));
    assert_ne!(moved.hold_id, unpaid.hold_id);
    assert_eq!(
        world.nights().await,
        vec![(3, 0, 0), (3, 0, 0)],
        "old hold given back"
    );
    assert_eq!(
        world.nights_of(later, later + Duration::days(3)).await,
        vec![(3, 1, 0); 3],
        "new stay held"
    );
    assert_eq!(
        world
            .catalog
            .get_hold(unpaid.hold_id)
            .await
            .expect("old")
            .status,
        HoldStatus::Released
    );
    let history = world
        .bookings
        .history(&ana, unpaid.id)
        .await
        .expect("history");
    assert_eq!(history[1].event_type, "modified");
    assert_eq!(history[1].data["price_difference"], 12_900);

    // Unpaid, at a new price: a payment for it replaces the old one, whose link stops working.
    let old_payment = fake_payments::payment_id_of(unpaid.id.as_uuid(), None).0;
    let new_payment = world
        .payment_service
        .intent_for(unpaid.id.as_uuid(), Some(2))
        .expect("a payment for the new price");
    assert_eq!(new_payment.amount, eur(3 * 12_900));
    assert_eq!(
        new_payment.purpose,
        innkeeper_payment::api::IntentPurpose::Booking
    );
    assert_eq!(moved.payment.payment_id, Some(new_payment.id.0));
    assert_eq!(moved.payment.checkout_url, new_payment.checkout_url);
    assert_eq!(moved.payment.status, PaymentState::AwaitingPayment);
    assert_eq!(
        history[1].data["superseded"],
        serde_json::json!([old_payment])
    );
    assert_eq!(
        history[1].data["payment"]["payment_id"],
        serde_json::json!(new_payment.id.0)
    );
    // Money for the replaced payment confirms nothing (the payment service refunds it).
    let stale = world
        .dispatcher()
        .deliver(&payment_succeeded(unpaid.id, 25_800))
        .await
        .expect("stale payment");
    assert_eq!(stale, Delivery::Handled);
    let still = world.bookings.get(&ana, unpaid.id).await.expect("get");
    assert_eq!(
        (still.status, still.version),
        (BookingStatus::PendingPayment, 2)
    );

    // Paid, then moved back: the new hold is sold at once, the old sale given back.
    let paid = world
        .dispatcher()
        .deliver(&payment_of(unpaid.id, Some(2), 3 * 12_900))
        .await
        .expect("payment");
    assert_eq!(paid, Delivery::Handled);
    let back = BookingPatch {
        check_in: Some(CHECK_IN),
        check_out: Some(CHECK_IN + Duration::days(2)),
        ..BookingPatch::default()
    };
    let moved_back = world
        .bookings
        .modify(&ana, unpaid.id, Some(3), back, None)
        .await
        .result
        .expect("modify a paid booking");
    assert_eq!(moved_back.status, BookingStatus::Confirmed);
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);
    assert_eq!(
        world.nights_of(later, later + Duration::days(3)).await,
        vec![(3, 0, 0); 3]
    );
    let history = world
        .bookings
        .history(&ana, unpaid.id)
        .await
        .expect("history");
    assert_eq!(history[3].data["price_difference"], -12_900);

    // Cheaper than paid: the difference goes back; `paid` goes down as the change is recorded.
    assert_eq!(moved_back.paid, eur(2 * 12_900));
    assert_eq!(moved_back.payment.status, PaymentState::Paid);
    assert_eq!(
        history[3].data["refund_due"],
        serde_json::json!({"amount": 12_900, "currency": "EUR"})
    );
    assert_eq!(
        world
            .payment_service
            .intent_for(unpaid.id.as_uuid(), Some(4)),
        None,
        "a refund opens no payment"
    );
    let refund = PAYMENT_OUTCOMES
        .event(
            unpaid.id,
            &crate::contracts::PaymentRefunded {
                payment_id: new_payment.id.0,
                booking_id: unpaid.id.as_uuid(),
                refund_id: uuid::Uuid::now_v7(),
                amount: eur(12_900),
                total_refunded: eur(12_900),
                reason: "modification".to_owned(),
            },
        )
        .expect("event");
    world.dispatcher().deliver(&refund).await.expect("refund");
    let refunded = world.bookings.get(&ana, unpaid.id).await.expect("get");
    assert_eq!(refunded.paid, eur(2 * 12_900), "lowered once, when decided");
    assert_eq!(refunded.payment.refunded, Some(eur(12_900)));
    assert_eq!(
        refunded.payment.status,
        PaymentState::Paid,
        "a live booking stays paid"
    );
    assert_eq!(refunded.version, 5);

    // Dearer than paid: the balance is owed at its own link, and paying it pays the booking up.
    let dearer = world
        .bookings
        .modify(&ana, unpaid.id, Some(5), patch.clone(), None)
        .await
        .result
        .expect("modify to a dearer stay");
    let balance = world
        .payment_service
        .intent_for(unpaid.id.as_uuid(), Some(6))
        .expect("a payment for the balance");
    assert_eq!(balance.amount, eur(12_900));
    assert_eq!(
        balance.purpose,
        innkeeper_payment::api::IntentPurpose::Balance
    );
    assert_eq!(dearer.status, BookingStatus::Confirmed);
    assert_eq!(dearer.payment.status, PaymentState::BalanceDue);
    assert_eq!(dearer.payment.due, Some(eur(12_900)));
    assert_eq!(dearer.payment.payment_id, Some(balance.id.0));
    assert_eq!(dearer.payment.checkout_url, balance.checkout_url);
    assert_eq!(dearer.paid, eur(2 * 12_900));
    // A declined card for the balance changes nothing: it stays due.
    let declined = PAYMENT_OUTCOMES
        .event(
            unpaid.id,
            &crate::contracts::PaymentFailed {
                payment_id: balance.id.0,
                booking_id: unpaid.id.as_uuid(),
                code: "card_declined".to_owned(),
            },
        )
        .expect("event");
    world
        .dispatcher()
        .deliver(&declined)
        .await
        .expect("declined");
    let due = world.bookings.get(&ana, unpaid.id).await.expect("get");
    assert_eq!((due.status, due.version), (BookingStatus::Confirmed, 6));
    let paid_up = world
        .dispatcher()
        .deliver(&payment_of(unpaid.id, Some(6), 12_900))
        .await
        .expect("balance");
    assert_eq!(paid_up, Delivery::Handled);
    let settled = world.bookings.get(&ana, unpaid.id).await.expect("get");
    assert_eq!(settled.status, BookingStatus::Confirmed);
    assert_eq!(settled.payment.status, PaymentState::Paid);
    assert_eq!(settled.payment.due, None);
    assert_eq!(settled.paid, eur(3 * 12_900));
    let history = world
        .bookings
        .history(&ana, unpaid.id)
        .await
        .expect("history");
    assert_eq!(history[6].event_type, "balance_paid");
    // The same payment again records nothing more.
    world
        .dispatcher()
        .deliver(&payment_of(unpaid.id, Some(6), 12_900))
        .await
        .expect("again");
    assert_eq!(
        world
            .bookings
            .get(&ana, unpaid.id)
            .await
            .expect("get")
            .version,
        7
    );
    // Cancelled now, the policy applies to everything paid.
    let cancelled = world
        .bookings
        .cancel(&ana, unpaid.id, Some(7), None, None)
        .await
        .result
        .expect("cancel");
    let history = world
        .bookings
        .history(&ana, unpaid.id)
        .await
        .expect("history");
    assert_eq!(
        history[7].data["paid"],
        serde_json::json!({"amount": 3 * 12_900, "currency": "EUR"})
    );
    assert_eq!(
        cancelled.refund.map(|r| r.amount.amount <= 3 * 12_900),
        Some(true)
    );
}

/// The payment service's outbox, as the booking's consumer reads it.
const PAYMENT_OUTCOMES: Outbox = Outbox::new("/innkeeper/payment", PAYMENT_TOPIC);

pub(super) async fn a_change_that_cannot_be_held_leaves_the_booking_as_it_was(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    // Another room type without rooms: sold out.
    let suite = world
        .catalog
        .create_room_type(
            &world.owner,
            world.hotel_id,
            NewRoomType {
                name: "Suite".to_owned(),
                description: String::new(),
                capacity: 4,
                beds: Vec::new(),
                amenities: Vec::new(),
                base_price: eur(30_000),
            },
        )
        .await
        .expect("suite");
    let patch = BookingPatch {
        room_type_id: Some(suite.id),
        guests: Some(4),
        ..BookingPatch::default()
    };
    let err = world
        .bookings
        .modify(&ana, booking.id, Some(1), patch, None)
        .await
        .result;
    assert_eq!(err.expect_err("no suite").code, ErrorCode::SoldOut);
    assert_eq!(
        world.bookings.get(&ana, booking.id).await.expect("get"),
        booking
    );
    assert_eq!(
        world.nights().await,
        vec![(3, 1, 0), (3, 1, 0)],
        "the old hold stands"
    );
    // Too many guests for the booked type; on the check-in day, nothing can change.
    let crowd = BookingPatch {
        guests: Some(3),
        ..BookingPatch::default()
    };
    let err = world
        .bookings
        .modify(&ana, booking.id, Some(1), crowd, None)
        .await
        .result;
    assert_eq!(err.expect_err("crowd").errors[0].field, "guests");
    world.clock.advance(CHECK_IN - T0.date());
    let late = BookingPatch {
        guests: Some(1),
        ..BookingPatch::default()
    };
    let err = world
        .bookings
        .modify(&ana, booking.id, Some(1), late, None)
        .await
        .result;
    assert_eq!(err.expect_err("too late").code, ErrorCode::InvalidState);
}

pub(super) async fn the_hotel_upgrades_a_stay_at_the_booked_price(world: World) {
    let (ana, booking) = world.paid_booking().await;
    let suite = world
        .catalog
        .create_room_type(
            &world.owner,
            world.hotel_id,
            NewRoomType {
                name: "Suite".to_owned(),
                description: String::new(),
                capacity: 4,
                beds: Vec::new(),
                amenities: Vec::new(),
                base_price: eur(30_000),
            },
        )
        .await
        .expect("suite");
    // No suite room yet: sold out, and nothing changes.
    let err = world
        .bookings
        .upgrade(&world.owner, booking.id, suite.id, None, None)
        .await;
    assert_eq!(err.result.expect_err("no rooms").code, ErrorCode::SoldOut);
    world
        .catalog
        .create_room(
            &world.owner,
            world.hotel_id,
            NewRoom {
                number: "501".to_owned(),
                floor: 5,
                room_type_id: suite.id,
                status: RoomStatus::Ready,
            },
        )
        .await
        .expect("suite room");
    let err = world
        .bookings
        .upgrade(&ana, booking.id, suite.id, None, None)
        .await;
    assert_eq!(err.result.expect_err("guest").code, ErrorCode::Forbidden);

    let upgraded = world
        .bookings
        .upgrade(&world.owner, booking.id, suite.id, Some(2), None)
        .await
        .result
        .expect("upgrade");
    assert_eq!(upgraded.room_type_id, suite.id);
    assert_eq!(upgraded.status, BookingStatus::Confirmed);
    assert_eq!(upgraded.price.total, eur(25_800), "the booked price");
    assert_eq!(
        upgraded.upgrade,
        Some(UpgradeNote {
            from_room_type_id: world.room_type_id,
            price_rule: PriceRule::Complimentary
        })
    );
    assert_eq!(
        world.nights().await,
        vec![(3, 0, 0), (3, 0, 0)],
        "the double is free"
    );
    let suite_nights = world
        .catalog
        .get_inventory(
            &world.owner,
            world.hotel_id,
            CHECK_IN,
            CHECK_IN + Duration::days(2),
        )
        .await
        .expect("inventory");
    let sold: Vec<u32> = suite_nights
        .iter()
        .filter(|n| n.room_type_id == suite.id)
        .map(|n| n.sold)
        .collect();
    assert_eq!(sold, vec![1, 1], "the suite is sold");
    // The release consumer sees the upgrade and frees nothing twice.
    let releases = world.dispatcher_of(world.hold_releases.clone());
    for event in &outbox_events(&world.booking_db.db).await {
        // Handled, or not one that ends or replaces a hold (`created`, `confirmed`).
        let delivered = releases.deliver(event).await.expect("deliver");
        assert!(
            matches!(delivered, Delivery::Handled | Delivery::Ignored),
            "{delivered:?}"
        );
    }
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
    // On check-in, the desk gives a suite room.
    world.clock.advance(CHECK_IN - T0.date());
    let inside = world
        .bookings
        .check_in(&world.owner, booking.id, None, None, None)
        .await
        .result
        .expect("check in");
    let rooms = world
        .catalog
        .list_rooms(&world.owner, world.hotel_id)
        .await
        .expect("rooms");
    let room = rooms
        .iter()
        .find(|r| inside.room_ids.contains(&r.id))
        .expect("room");
    assert_eq!(room.room_type_id, suite.id);
}

pub(super) async fn a_change_owing_a_payment_fails_fast_when_the_provider_is_down(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let later = CHECK_IN + Duration::days(7);
    let patch = BookingPatch {
        check_in: Some(later),
        check_out: Some(later + Duration::days(3)),
        ..BookingPatch::default()
    };
    world
        .payment_service
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = world
        .bookings
        .modify(&ana, booking.id, Some(1), patch.clone(), None)
        .await
        .result
        .expect_err("the new price cannot be opened");
    assert_eq!(err.code, ErrorCode::Unavailable);
    let same = world.bookings.get(&ana, booking.id).await.expect("get");
    assert_eq!(same, booking, "nothing changed");
    assert_eq!(
        world.nights_of(later, later + Duration::days(3)).await,
        vec![(3, 0, 0); 3],
        "the new stay's hold given back"
    );
    assert_eq!(world.nights().await, vec![(3, 1, 0), (3, 1, 0)]);
    world
        .payment_service
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let moved = world
        .bookings
        .modify(&ana, booking.id, Some(1), patch, None)
        .await
        .result
        .expect("modify");
    assert_eq!(
        moved.payment.payment_id,
        Some(fake_payments::payment_id_of(booking.id.as_uuid(), Some(2)).0)
    );
}

pub(super) async fn changes_that_owe_nothing_new_keep_the_payment_owed(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    // The same price (another night of the same rate): the link stays.
    let shifted = BookingPatch {
        check_in: Some(CHECK_IN + Duration::days(1)),
        check_out: Some(CHECK_IN + Duration::days(3)),
        ..BookingPatch::default()
    };
    let moved = world
        .bookings
        .modify(&ana, booking.id, Some(1), shifted, None)
        .await
        .result
        .expect("modify");
    assert_eq!(moved.price.total, booking.price.total);
    assert_eq!(moved.payment, booking.payment, "the same payment is owed");
    assert_eq!(
        world
            .payment_service
            .intent_for(booking.id.as_uuid(), Some(2)),
        None
    );
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    assert!(
        history[1].data.get("superseded").is_none(),
        "{}",
        history[1].data
    );

    // Paid, then dearer: a balance; changed again to the same dearer price: the same balance.
    world
        .dispatcher()
        .deliver(&payment_succeeded(booking.id, 25_800))
        .await
        .expect("pay");
    let longer = BookingPatch {
        check_out: Some(CHECK_IN + Duration::days(4)),
        ..BookingPatch::default()
    };
    let dearer = world
        .bookings
        .modify(&ana, booking.id, Some(3), longer, None)
        .await
        .result
        .expect("dearer");
    assert_eq!(dearer.payment.status, PaymentState::BalanceDue);
    assert_eq!(dearer.payment.due, Some(eur(12_900)));
    let shifted_again = BookingPatch {
        check_in: Some(CHECK_IN),
        check_out: Some(CHECK_IN + Duration::days(3)),
        ..BookingPatch::default()
    };
    let same_balance = world
        .bookings
        .modify(&ana, booking.id, Some(4), shifted_again, None)
        .await
        .result
        .expect("same price");
    assert_eq!(
        same_balance.payment, dearer.payment,
        "the balance link stays"
    );
    // Back to what was paid: the balance is no longer owed, and its payment is given up.
    let back = BookingPatch {
        check_in: Some(CHECK_IN + Duration::days(1)),
        check_out: Some(CHECK_IN + Duration::days(3)),
        ..BookingPatch::default()
    };
    let settled = world
        .bookings
        .modify(&ana, booking.id, Some(5), back, None)
        .await
        .result
        .expect("back");
    assert_eq!(settled.payment.status, PaymentState::Paid);
    assert_eq!(settled.payment.due, None);
    assert_eq!(settled.paid, eur(25_800));
    // Dearer again, then cancelled with the balance still owed: the balance is off.
    let dearer_again = world
        .bookings
        .modify(
            &ana,
            booking.id,
            Some(6),
            BookingPatch {
                check_out: Some(CHECK_IN + Duration::days(4)),
                ..BookingPatch::default()
            },
            None,
        )
        .await
        .result
        .expect("dearer again");
    assert_eq!(dearer_again.payment.status, PaymentState::BalanceDue);
    let cancelled = world
        .bookings
        .cancel(&ana, booking.id, Some(7), None, None)
        .await
        .result
        .expect("cancel");
    assert_eq!(cancelled.payment.status, PaymentState::Paid);
    assert_eq!(
        (cancelled.payment.due, cancelled.payment.checkout_url),
        (None, None)
    );
    assert_eq!(
        cancelled.refund.map(|r| r.amount),
        Some(eur(25_800)),
        "of what was paid"
    );
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    assert_eq!(
        history[5].data["superseded"],
        serde_json::json!([dearer.payment.payment_id])
    );
    // A payment of the given-up balance, late, counts for nothing.
    let mut late = payment_of(booking.id, Some(4), 12_900);
    let mut data: serde_json::Value = serde_json::from_slice(&late.data).expect("json");
    data["late"] = serde_json::json!(true);
    late.data = serde_json::to_vec(&data).expect("json");
    world.dispatcher().deliver(&late).await.expect("late");
    let after = world.bookings.get(&ana, booking.id).await.expect("get");
    assert_eq!((after.paid, after.version), (eur(25_800), 8));
}
