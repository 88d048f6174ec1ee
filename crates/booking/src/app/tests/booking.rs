//! Creating, reading and listing bookings.

use super::*;

pub(super) async fn a_guest_books_a_stay_held_under_the_booking_id(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    assert_eq!(booking.status, BookingStatus::PendingPayment);
    assert_eq!(booking.payment.status, PaymentState::AwaitingPayment);
    assert_eq!(booking.guest_id, ana.user_id);
    assert_eq!(booking.hotel_owner_id, world.owner.user_id);
    assert_eq!(booking.price.total, eur(25_800));
    assert_eq!(booking.price.nights.len(), 2);
    assert_eq!(booking.cancellation_policy, CancellationPolicy::default());
    assert_eq!(booking.hold_expires_at, T0 + Duration::seconds(900));
    assert!(booking.reference.as_str().starts_with("INK-"));

    let hold = world
        .catalog
        .get_hold(booking.id.hold_id())
        .await
        .expect("hold");
    assert_eq!(hold.status, HoldStatus::Held);
    assert_eq!(booking.hold_id, hold.id);
    assert_eq!(world.nights().await, vec![(3, 1, 0), (3, 1, 0)]);

    assert_eq!(
        world.bookings.get(&ana, booking.id).await.expect("get"),
        booking
    );
    let lower = booking.reference.as_str().to_ascii_lowercase();
    assert_eq!(
        world
            .bookings
            .get_by_reference(&ana, &lower)
            .await
            .expect("by ref"),
        booking
    );
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].event_type, "created");
    assert_eq!(history[0].actor, Actor::user(&ana));
    assert_eq!(history[0].at, T0);
}

pub(super) async fn only_guests_book_and_refused_requests_hold_nothing(world: World) {
    for role in [Role::Hotelier, Role::Admin] {
        let err = world
            .bookings
            .create(&principal(role), world.request(), None)
            .await
            .result
            .expect_err("not a guest");
        assert_eq!(err.code, ErrorCode::Forbidden);
    }
    let ana = guest();
    let past = NewBooking {
        check_in: T0.date() - Duration::days(1),
        ..world.request()
    };
    let crowded = NewBooking {
        guests: 3,
        ..world.request()
    };
    let elsewhere = NewBooking {
        room_type_id: RoomTypeId::new(),
        ..world.request()
    };
    for (request, field) in [
        (past, "check_in"),
        (crowded, "guests"),
        (elsewhere, "room_type_id"),
    ] {
        let err = world
            .bookings
            .create(&ana, request, None)
            .await
            .result
            .expect_err("invalid");
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.errors.iter().any(|e| e.field == field), "{err:?}");
    }
    let unknown_hotel = NewBooking {
        hotel_id: HotelId::new(),
        ..world.request()
    };
    let err = world
        .bookings
        .create(&ana, unknown_hotel, None)
        .await
        .result
        .expect_err("no hotel");
    assert_eq!(err.code, ErrorCode::NotFound);
    let too_many_rooms = NewBooking {
        rooms: Some(4),
        guests: 2,
        ..world.request()
    };
    let err = world
        .bookings
        .create(&ana, too_many_rooms, None)
        .await
        .result
        .expect_err("sold out");
    assert_eq!(err.code, ErrorCode::SoldOut);
    let nights = world.nights().await;
    assert!(
        nights
            .iter()
            .all(|(_, held, sold)| (*held, *sold) == (0, 0)),
        "{nights:?}"
    );
}

/// 64 guests race for the last of three rooms for a 2-night stay, over 5 rounds (each on
/// other nights): exactly one booking each time, 63 `sold_out`, no other error.
pub(super) async fn the_last_room_goes_to_exactly_one_guest(world: World) {
    let world = Arc::new(world);
    for round in 0..5 {
        let check_in = CHECK_IN + Duration::days(3 * round);
        let request = NewBooking {
            check_in,
            check_out: check_in + Duration::days(2),
            ..world.request()
        };
        // Two of the three rooms are taken.
        for _ in 0..2 {
            let taken = world.bookings.create(&guest(), request.clone(), None).await;
            taken.result.expect("create");
        }
        let mut racers = Vec::new();
        for _ in 0..64 {
            let (world, request) = (world.clone(), request.clone());
            racers.push(tokio::spawn(async move {
                world.bookings.create(&guest(), request, None).await.result
            }));
        }
        let (mut created, mut sold_out) = (0, 0);
        for racer in racers {
            match racer.await.expect("task") {
                Ok(_) => created += 1,
                Err(err) if err.code == ErrorCode::SoldOut => sold_out += 1,
                Err(err) => panic!("unexpected {err:?}"),
            }
        }
        assert_eq!((created, sold_out), (1, 63), "round {round}");
        let nights = world
            .nights_of(check_in, check_in + Duration::days(2))
            .await;
        assert_eq!(nights, vec![(3, 3, 0), (3, 3, 0)], "round {round}");
    }
}

pub(super) async fn bookings_are_visible_to_their_guest_their_hotel_and_admins_only(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    for who in [ana, world.owner, principal(Role::Admin)] {
        assert_eq!(
            world.bookings.get(&who, booking.id).await.expect("visible"),
            booking
        );
        assert!(world.bookings.history(&who, booking.id).await.is_ok());
    }
    for who in [guest(), principal(Role::Hotelier)] {
        let err = world
            .bookings
            .get(&who, booking.id)
            .await
            .expect_err("hidden");
        assert_eq!(err.code, ErrorCode::NotFound);
        let err = world
            .bookings
            .get_by_reference(&who, booking.reference.as_str())
            .await
            .expect_err("hidden");
        assert_eq!(err.code, ErrorCode::NotFound);
        assert_eq!(
            world
                .bookings
                .history(&who, booking.id)
                .await
                .expect_err("hidden")
                .code,
            ErrorCode::NotFound
        );
    }
    let err = world
        .bookings
        .get_by_reference(&ana, "INK-0000")
        .await
        .expect_err("malformed");
    assert_eq!(err.code, ErrorCode::NotFound);
}

pub(super) async fn lists_show_a_guest_their_own_and_a_hotel_its_own(world: World) {
    let (ana, bea) = (guest(), guest());
    let mut anas = Vec::new();
    for _ in 0..3 {
        let b = world
            .bookings
            .create(&ana, world.request(), None)
            .await
            .result
            .expect("create");
        anas.push(b.id);
    }
    world
        .bookings
        .cancel(&ana, anas[2], None, None, None)
        .await
        .result
        .expect("cancel");
    let beas = world
        .bookings
        .create(&bea, world.request(), None)
        .await
        .result
        .expect("create");

    let own = world
        .bookings
        .list(&ana, BookingQuery::default())
        .await
        .expect("list");
    let mut expected = anas.clone();
    expected.sort();
    assert_eq!(own.items.iter().map(|b| b.id).collect::<Vec<_>>(), expected);
    assert_eq!(own.next_cursor, None);

    let at_hotel = BookingQuery {
        hotel_id: Some(world.hotel_id),
        limit: Some(3),
        ..BookingQuery::default()
    };
    let first = world
        .bookings
        .list(&world.owner, at_hotel.clone())
        .await
        .expect("page 1");
    assert_eq!(first.items.len(), 3);
    let second = world
        .bookings
        .list(
            &world.owner,
            BookingQuery {
                cursor: first.next_cursor.clone(),
                ..at_hotel.clone()
            },
        )
        .await
        .expect("page 2");
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next_cursor, None);
    let all: Vec<_> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|b| b.id)
        .collect();
    assert!(all.contains(&beas.id));
    let cancelled = BookingQuery {
        status: Some(BookingStatus::Cancelled),
        ..at_hotel.clone()
    };
    let only = world
        .bookings
        .list(&world.owner, cancelled)
        .await
        .expect("cancelled");
    assert_eq!(
        only.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![anas[2]]
    );
    assert!(
        world
            .bookings
            .list(&principal(Role::Admin), at_hotel.clone())
            .await
            .is_ok()
    );

    // Another hotelier's hotel does not exist for them; a guest lists only their own.
    let err = world
        .bookings
        .list(&principal(Role::Hotelier), at_hotel.clone())
        .await;
    assert_eq!(err.expect_err("other hotel").code, ErrorCode::NotFound);
    let err = world.bookings.list(&ana, at_hotel).await;
    assert_eq!(err.expect_err("guest").code, ErrorCode::Forbidden);
    let err = world
        .bookings
        .list(&world.owner, BookingQuery::default())
        .await;
    assert_eq!(err.expect_err("which hotel").errors[0].field, "hotel_id");
    let bad = BookingQuery {
        limit: Some(0),
        ..BookingQuery::default()
    };
    assert_eq!(
        world
            .bookings
            .list(&ana, bad)
            .await
            .expect_err("limit")
            .errors[0]
            .field,
        "limit"
    );
}
