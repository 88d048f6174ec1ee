//! Idempotency keys on the use cases.

use super::*;

pub(super) async fn one_key_books_once_and_replays_the_same_answer(world: World) {
    let ana = guest();
    let world = Arc::new(world);
    let mut attempts = Vec::new();
    for _ in 0..64 {
        let world = world.clone();
        attempts.push(tokio::spawn(async move {
            world
                .bookings
                .create(&ana, world.request(), key("book-1"))
                .await
        }));
    }
    let mut booked = Vec::new();
    let mut in_flight = 0;
    for attempt in attempts {
        let answer = attempt.await.expect("task");
        match answer.result {
            Ok(booking) => booked.push((booking, answer.replayed)),
            Err(err) if err.code == ErrorCode::Conflict => in_flight += 1,
            Err(err) => panic!("unexpected {err:?}"),
        }
    }
    let fresh: Vec<_> = booked.iter().filter(|(_, replayed)| !replayed).collect();
    assert_eq!(fresh.len(), 1, "one execution");
    assert_eq!(booked.len() + in_flight, 64);
    let first = fresh[0].0.clone();
    assert!(
        booked.iter().all(|(b, _)| *b == first),
        "replays answer the same booking"
    );
    assert_eq!(world.nights().await, vec![(3, 1, 0), (3, 1, 0)], "one hold");

    let again = world
        .bookings
        .create(&ana, world.request(), key("book-1"))
        .await;
    assert!(again.replayed);
    let replayed = again.result.expect("replayed booking");
    assert_eq!(
        serde_json::to_vec(&replayed).expect("json"),
        serde_json::to_vec(&first).expect("json"),
        "byte-identical"
    );
    // The same key for another request.
    let other = NewBooking {
        guests: 1,
        ..world.request()
    };
    let err = world
        .bookings
        .create(&ana, other, key("book-1"))
        .await
        .result
        .expect_err("reused");
    assert_eq!(err.code, ErrorCode::ValidationFailed);
    assert_eq!(err.code.http_status(), 422);
    // Keys are the caller's: another guest's "book-1" is another request.
    let bea = world
        .bookings
        .create(&guest(), world.request(), key("book-1"))
        .await;
    assert!(!bea.replayed);
    assert_ne!(bea.result.expect("booked").id, first.id);
    assert_eq!(world.nights().await, vec![(3, 2, 0), (3, 2, 0)]);
}

pub(super) async fn a_keyed_failure_replays_its_error_and_keyed_cancels_replay(world: World) {
    let ana = guest();
    let four = NewBooking {
        rooms: Some(4),
        ..world.request()
    };
    let first = world.bookings.create(&ana, four.clone(), key("four")).await;
    let err = first.result.expect_err("sold out");
    assert_eq!(err.code, ErrorCode::SoldOut);
    // Even once rooms could be found, the key answers what it answered.
    let again = world.bookings.create(&ana, four, key("four")).await;
    assert!(again.replayed);
    assert_eq!(again.result.expect_err("replayed"), err);

    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let cancel = |k: &'static str| {
        let world = world.bookings.clone();
        async move { world.cancel(&ana, booking.id, None, None, key(k)).await }
    };
    let first = cancel("cancel-1").await;
    assert!(!first.replayed);
    let cancelled = first.result.expect("cancelled");
    let second = cancel("cancel-1").await;
    assert!(
        second.replayed,
        "a repeat is answered, not refused as invalid_state"
    );
    assert_eq!(second.result.expect("replayed"), cancelled);
    let third = cancel("cancel-2").await;
    assert_eq!(
        third.result.expect_err("new key").code,
        ErrorCode::InvalidState
    );
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    assert_eq!(history.len(), 2, "one cancellation");
}
