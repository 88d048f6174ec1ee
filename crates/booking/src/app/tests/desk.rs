//! The front desk: check-in with rooms, check-out, no-show.

use super::*;

pub(super) async fn the_front_desk_checks_in_and_out_and_records_no_shows(world: World) {
    let (ana, booking) = world.paid_booking().await;
    let desk = world.owner;
    // The guest sees the booking but is not the front desk; another hotelier does not see it.
    let err = world
        .bookings
        .check_in(&ana, booking.id, None, None, None)
        .await
        .result;
    assert_eq!(err.expect_err("guest").code, ErrorCode::Forbidden);
    let other = principal(Role::Hotelier);
    let err = world
        .bookings
        .check_in(&other, booking.id, None, None, None)
        .await
        .result;
    assert_eq!(err.expect_err("other hotel").code, ErrorCode::NotFound);
    // Not before the check-in day.
    let err = world
        .bookings
        .check_in(&desk, booking.id, None, None, None)
        .await
        .result;
    assert_eq!(err.expect_err("too early").code, ErrorCode::InvalidState);

    world.clock.advance(CHECK_IN - T0.date());
    let inside = world
        .bookings
        .check_in(&desk, booking.id, None, Some(2), None)
        .await
        .result
        .expect("check in");
    assert_eq!(inside.status, BookingStatus::CheckedIn);
    let [room] = inside.room_ids[..] else {
        panic!("one room: {:?}", inside.room_ids)
    };
    assert!(world.rooms().await.contains(&room));
    let out = world
        .bookings
        .check_out(&desk, booking.id, None, None)
        .await
        .result
        .expect("check out");
    assert_eq!(out.status, BookingStatus::CheckedOut);
    let err = world
        .bookings
        .no_show(&desk, booking.id, None, None)
        .await
        .result;
    assert!(err.expect_err("left").message.contains("checked_out"));
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    let types: Vec<&str> = history.iter().map(|h| h.event_type.as_str()).collect();
    assert_eq!(types, ["created", "confirmed", "checked_in", "checked_out"]);
    assert_eq!(history[2].data["room_ids"], serde_json::json!([room]));

    // A no-show on the check-in day; an unpaid booking cannot be one.
    let (_, absent) = world.paid_booking().await;
    let absent = world
        .bookings
        .no_show(&desk, absent.id, None, key("ns-1"))
        .await
        .result
        .expect("no show");
    assert_eq!(absent.status, BookingStatus::NoShow);
    let replay = world
        .bookings
        .no_show(&desk, absent.id, None, key("ns-1"))
        .await;
    assert!(replay.replayed);
    assert_eq!(replay.result.expect("replayed"), absent);
}

pub(super) async fn a_room_never_holds_two_overlapping_stays(world: World) {
    let mut stays = Vec::new();
    for _ in 0..3 {
        stays.push(world.paid_booking().await.1);
    }
    world.clock.advance(CHECK_IN - T0.date());
    let rooms = world.rooms().await;
    let contested = rooms[0];
    let world = Arc::new(world);
    let mut desks = Vec::new();
    for booking in &stays {
        let (world, id) = (world.clone(), booking.id);
        desks.push(tokio::spawn(async move {
            world
                .bookings
                .check_in(&world.owner, id, Some(contested), None, None)
                .await
                .result
        }));
    }
    let mut given = Vec::new();
    for desk in desks {
        match desk.await.expect("task") {
            Ok(booking) => given.push(booking),
            Err(err) => {
                assert_eq!(err.code, ErrorCode::Conflict);
                assert!(
                    err.message.contains(&contested.to_string()),
                    "{}",
                    err.message
                );
            }
        }
    }
    assert_eq!(given.len(), 1, "one stay gets the contested room");
    assert_eq!(given[0].room_ids, vec![contested]);
    // The others get the other rooms, one each.
    let mut assigned = vec![contested];
    for booking in stays.iter().filter(|b| b.id != given[0].id) {
        let inside = world
            .bookings
            .check_in(&world.owner, booking.id, None, None, None)
            .await
            .result
            .expect("check in");
        let [room] = inside.room_ids[..] else {
            panic!("one room: {:?}", inside.room_ids)
        };
        assert!(!assigned.contains(&room), "room {room} given twice");
        assigned.push(room);
    }
    assert_eq!(assigned.len(), 3);
}

pub(super) async fn a_booking_of_two_rooms_gets_two_rooms(world: World) {
    let ana = guest();
    let two = NewBooking {
        rooms: Some(2),
        guests: 4,
        ..world.request()
    };
    let booking = world
        .bookings
        .create(&ana, two, None)
        .await
        .result
        .expect("create");
    let paid = world
        .dispatcher()
        .deliver(&payment_succeeded(booking.id, 51_600))
        .await
        .expect("payment");
    assert_eq!(paid, Delivery::Handled);
    world.clock.advance(CHECK_IN - T0.date());
    let rooms = world.rooms().await;
    let inside = world
        .bookings
        .check_in(&world.owner, booking.id, Some(rooms[2]), None, None)
        .await
        .result
        .expect("check in");
    assert_eq!(inside.room_ids.len(), 2);
    assert_eq!(
        inside.room_ids[0], rooms[2],
        "the room asked for, then another"
    );
    assert_ne!(inside.room_ids[0], inside.room_ids[1]);
    assert_eq!(world.nights().await, vec![(3, 0, 2), (3, 0, 2)]);
}
