//! Room assignments: a room never holds two overlapping stays, under any interleaving.

use std::sync::Arc;

use innkeeper_kernel::{RoomId, StayDates};
use innkeeper_platform::db::Database;
use time::Duration;

use super::append_of;
use crate::domain::booking::{self, Decided};
use crate::fixtures::{CHECK_IN, T0, eur, new_booking, payment};
use crate::store::{AppendError, BookingStore};

/// A stored, paid booking of one room for `[CHECK_IN + from, CHECK_IN + to)`, ready to be
/// checked in.
async fn paid_stay(store: &Arc<dyn BookingStore>, from: i64, to: i64) -> Decided {
    paid_rooms(store, from, to, 1).await
}

/// A stored, paid booking of `rooms` rooms for `[CHECK_IN + from, CHECK_IN + to)`.
async fn paid_rooms(store: &Arc<dyn BookingStore>, from: i64, to: i64, rooms: u32) -> Decided {
    let mut created = new_booking();
    let stay = StayDates::from_stored(
        CHECK_IN + Duration::days(from),
        CHECK_IN + Duration::days(to),
    )
    .expect("stay");
    created.booking.stay = stay;
    created.booking.rooms = rooms;
    if let crate::domain::events::BookingEvent::Created(c) = &mut created.event.event {
        c.stay = stay;
        c.rooms = rooms;
    }
    store.append(&append_of(&created)).await.expect("created");
    let paid = booking::confirm(&created.booking, uuid::Uuid::nil(), eur(1), payment(), T0)
        .expect("confirm");
    store.append(&append_of(&paid)).await.expect("confirmed");
    paid
}

/// The check-in of `paid` into `room`, appended with its assignment.
async fn check_in(
    store: &Arc<dyn BookingStore>,
    paid: &Decided,
    room: RoomId,
) -> Result<(), AppendError> {
    check_in_to(store, paid, vec![room]).await
}

/// The check-in of `paid` into `rooms`, assigned in that order.
async fn check_in_to(
    store: &Arc<dyn BookingStore>,
    paid: &Decided,
    rooms: Vec<RoomId>,
) -> Result<(), AppendError> {
    let day = paid.booking.stay.check_in();
    let inside =
        booking::check_in(&paid.booking, rooms.clone(), day, payment(), T0).expect("check in");
    let mut append = append_of(&inside);
    append.assignment = rooms;
    store.append(&append).await
}

pub(crate) async fn a_room_never_holds_two_overlapping_stays(
    store: Arc<dyn BookingStore>,
    db: &Database,
) {
    let room = RoomId::new();
    // 16 stays that all share the night CHECK_IN + 3, racing for one room.
    let mut stays = Vec::new();
    for n in 0..16 {
        stays.push(paid_stay(&store, n % 4, 4 + n % 3).await);
    }
    let before = super::outbox_rows(db).await.len();
    let mut racers = Vec::new();
    for stay in stays.clone() {
        let store = store.clone();
        racers.push(tokio::spawn(
            async move { check_in(&store, &stay, room).await },
        ));
    }
    let mut winners = 0;
    for racer in racers {
        match racer.await.expect("task") {
            Ok(()) => winners += 1,
            Err(err) => assert_eq!(err, AppendError::RoomTaken { room_id: room }),
        }
    }
    assert_eq!(winners, 1, "one stay gets the room");
    assert_eq!(
        super::outbox_rows(db).await.len(),
        before + 1,
        "losers publish nothing"
    );
    for stay in &stays {
        let events = store.events(stay.booking.id).await.expect("events");
        assert!(events.len() == 2 || events.len() == 3);
    }
    // Stays that only touch (one leaves the morning the next arrives) share a room.
    let other = RoomId::new();
    let first = paid_stay(&store, 10, 12).await;
    let second = paid_stay(&store, 12, 13).await;
    check_in(&store, &first, other).await.expect("first");
    check_in(&store, &second, other)
        .await
        .expect("second, the day the first leaves");
    let overlapping = paid_stay(&store, 11, 12).await;
    assert_eq!(
        check_in(&store, &overlapping, other).await,
        Err(AppendError::RoomTaken { room_id: other })
    );
    assert_eq!(
        store.get(overlapping.booking.id).await.expect("get"),
        Some(overlapping.booking),
        "a refused check-in changes nothing"
    );
}

/// Two-room check-ins racing for the same two rooms, naming them in opposite orders (two
/// writers taking them one by one in those orders wait for each other): in every round one
/// gets both rooms and the other is told a room is taken, never anything else.
pub(crate) async fn check_ins_racing_for_the_same_rooms_have_one_winner(
    store: Arc<dyn BookingStore>,
    _db: &Database,
) {
    for round in 0..20 {
        let (a, b) = (RoomId::new(), RoomId::new());
        let first = paid_rooms(&store, 0, 2, 2).await;
        let second = paid_rooms(&store, 1, 3, 2).await;
        let (one, other) = tokio::join!(
            check_in_to(&store, &first, vec![a, b]),
            check_in_to(&store, &second, vec![b, a]),
        );
        let (won, lost) = match (one, other) {
            (Ok(()), lost) => (&first, lost),
            (lost, Ok(())) => (&second, lost),
            (one, other) => panic!("round {round}: nobody got the rooms: {one:?}, {other:?}"),
        };
        match lost {
            Err(AppendError::RoomTaken { room_id }) => {
                assert!(room_id == a || room_id == b, "round {round}: {room_id}")
            }
            other => panic!("round {round}: the loser was told {other:?}"),
        }
        let stored = store
            .get(won.booking.id)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(
            stored.status,
            crate::api::BookingStatus::CheckedIn,
            "round {round}"
        );
    }
}
