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

    // Paid, then moved back: the new hold is sold at once, the old sale given back.
    let paid = world
        .dispatcher()
        .deliver(&payment_succeeded(unpaid.id, 3 * 12_900))
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
}

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
