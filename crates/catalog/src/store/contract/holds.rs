//! Contract: the hold life cycle.

use std::sync::Arc;

use innkeeper_kernel::{ErrorCode, HoldId, RoomTypeId};
use time::Duration;

use super::{T0, counters, day, new_hold, seed, stored_nights};
use crate::api::{HoldStatus, RoomType};
use crate::store::{CatalogStore, StoredNight};

pub(crate) async fn a_hold_lives_and_counters_follow(store: Arc<dyn CatalogStore>) {
    let (h, rt) = seed(&store, 2).await;
    let request = new_hold(&rt, day(40), day(43), 1);
    let placed = store.place_hold(&request).await.expect("place");
    assert_eq!(
        (placed.id, placed.hotel_id, placed.room_type_id),
        (request.id, h.id, rt.id)
    );
    assert_eq!(
        (
            placed.stay.check_in(),
            placed.stay.check_out(),
            placed.quantity
        ),
        (day(40), day(43), 1)
    );
    assert_eq!(placed.status, HoldStatus::Held);
    assert_eq!(
        (placed.expires_at, placed.created_at, placed.updated_at),
        (T0 + Duration::minutes(15), T0, T0)
    );
    assert_eq!(
        store.get_hold(placed.id).await.expect("get"),
        Some(placed.clone())
    );
    assert_eq!(
        counters(&store, &rt, day(40), day(43)).await,
        [Some((2, 1, 0)); 3]
    );

    let mut replay = request.clone();
    replay.now = T0 + Duration::minutes(1);
    replay.expires_at = T0 + Duration::minutes(16);
    assert_eq!(
        store.place_hold(&replay).await.expect("idempotent"),
        placed,
        "returned unchanged"
    );
    assert_eq!(
        counters(&store, &rt, day(40), day(43)).await,
        [Some((2, 1, 0)); 3],
        "held once"
    );

    for other in [
        crate::store::NewHold {
            quantity: 2,
            ..request.clone()
        },
        crate::store::NewHold {
            check_out: day(44),
            ..request.clone()
        },
        crate::store::NewHold {
            room_type_id: RoomTypeId::new(),
            ..request.clone()
        },
    ] {
        assert_eq!(
            store
                .place_hold(&other)
                .await
                .expect_err("other terms")
                .code,
            ErrorCode::Conflict
        );
    }
    assert_eq!(
        counters(&store, &rt, day(40), day(44)).await,
        [Some((2, 1, 0)), Some((2, 1, 0)), Some((2, 1, 0)), None]
    );

    let later = T0 + Duration::minutes(5);
    let confirmed = store.confirm_hold(placed.id, later).await.expect("confirm");
    assert_eq!(
        (confirmed.status, confirmed.updated_at, confirmed.created_at),
        (HoldStatus::Confirmed, later, T0)
    );
    assert_eq!(
        counters(&store, &rt, day(40), day(43)).await,
        [Some((2, 0, 1)); 3]
    );
    assert_eq!(
        store
            .confirm_hold(placed.id, T0 + Duration::hours(1))
            .await
            .expect("again"),
        confirmed,
        "confirmed stays confirmed"
    );
    assert_eq!(
        store.get_hold(placed.id).await.expect("get"),
        Some(confirmed.clone())
    );

    let released = store
        .release_hold(placed.id, later)
        .await
        .expect("release a confirmed hold");
    assert_eq!(released.status, HoldStatus::Released);
    assert_eq!(
        counters(&store, &rt, day(40), day(43)).await,
        [Some((2, 0, 0)); 3]
    );
    assert_eq!(
        store
            .release_hold(placed.id, T0 + Duration::hours(1))
            .await
            .expect("again"),
        released
    );
    assert_eq!(
        counters(&store, &rt, day(40), day(43)).await,
        [Some((2, 0, 0)); 3],
        "given back once"
    );
    assert_eq!(
        store
            .confirm_hold(placed.id, later)
            .await
            .expect_err("released")
            .code,
        ErrorCode::InvalidState
    );

    let second = store
        .place_hold(&new_hold(&rt, day(41), day(42), 2))
        .await
        .expect("both rooms");
    assert_eq!(
        counters(&store, &rt, day(40), day(43)).await,
        [Some((2, 0, 0)), Some((2, 2, 0)), Some((2, 0, 0))]
    );
    assert_eq!(
        store
            .release_hold(second.id, later)
            .await
            .expect("release held")
            .status,
        HoldStatus::Released
    );
    assert_eq!(
        counters(&store, &rt, day(40), day(43)).await,
        [Some((2, 0, 0)); 3]
    );

    let unknown_type = crate::store::NewHold {
        room_type_id: RoomTypeId::new(),
        ..new_hold(&rt, day(40), day(41), 1)
    };
    assert_eq!(
        store
            .place_hold(&unknown_type)
            .await
            .expect_err("unknown type")
            .code,
        ErrorCode::NotFound
    );
    let nobody = HoldId::new();
    assert_eq!(store.get_hold(nobody).await.expect("get"), None);
    assert_eq!(
        store
            .confirm_hold(nobody, later)
            .await
            .expect_err("unknown")
            .code,
        ErrorCode::NotFound
    );
    assert_eq!(
        store
            .release_hold(nobody, later)
            .await
            .expect_err("unknown")
            .code,
        ErrorCode::NotFound
    );
}

pub(crate) async fn expiry_gives_rooms_back(store: Arc<dyn CatalogStore>) {
    let (_, rt) = seed(&store, 5).await;
    let at = |minutes: i64| T0 + Duration::minutes(minutes);
    let with_ttl = |minutes: i64| crate::store::NewHold {
        expires_at: at(minutes),
        ..new_hold(&rt, day(50), day(52), 1)
    };
    let soon = store.place_hold(&with_ttl(10)).await.expect("place");
    let late = store.place_hold(&with_ttl(20)).await.expect("place");
    let kept = store.place_hold(&with_ttl(10)).await.expect("place");
    store
        .confirm_hold(kept.id, at(5))
        .await
        .expect("confirm before expiry");
    assert_eq!(
        counters(&store, &rt, day(50), day(52)).await,
        [Some((5, 2, 1)); 2]
    );

    assert_eq!(
        store.expire_holds(at(9), 10).await.expect("nothing due"),
        []
    );
    let swept = store.expire_holds(at(10), 10).await.expect("expire");
    let expired = store.get_hold(soon.id).await.expect("get").expect("exists");
    assert_eq!(
        swept,
        std::slice::from_ref(&expired),
        "due at expires_at; confirmed holds are not; returned as stored"
    );
    assert_eq!(
        (
            expired.status,
            expired.updated_at,
            expired.hotel_id,
            expired.room_type_id,
            expired.stay.check_in(),
            expired.stay.check_out(),
            expired.quantity,
        ),
        (
            HoldStatus::Expired,
            at(10),
            rt.hotel_id,
            rt.id,
            day(50),
            day(52),
            1
        )
    );
    assert_eq!(
        counters(&store, &rt, day(50), day(52)).await,
        [Some((5, 1, 1)); 2]
    );
    assert_eq!(
        store.expire_holds(at(11), 10).await.expect("again"),
        [],
        "expired once"
    );
    assert_eq!(
        store
            .release_hold(soon.id, at(12))
            .await
            .expect("release expired"),
        expired,
        "returned as is"
    );
    assert_eq!(
        store
            .confirm_hold(soon.id, at(12))
            .await
            .expect_err("expired")
            .code,
        ErrorCode::InvalidState
    );

    // Confirming an overdue hold expires it, and that sticks even though the call fails.
    let err = store
        .confirm_hold(late.id, at(25))
        .await
        .expect_err("overdue");
    assert_eq!(err.code, ErrorCode::InvalidState);
    assert!(err.message.contains("expired"), "{}", err.message);
    assert_eq!(
        store
            .get_hold(late.id)
            .await
            .expect("get")
            .map(|h| h.status),
        Some(HoldStatus::Expired)
    );
    assert_eq!(
        counters(&store, &rt, day(50), day(52)).await,
        [Some((5, 0, 1)); 2]
    );

    // The limit bounds one sweep; the next sweep takes the rest.
    let mut batch = Vec::new();
    for minutes in [28, 29, 30] {
        batch.push(
            store
                .place_hold(&with_ttl(minutes))
                .await
                .expect("place")
                .id,
        );
    }
    assert_eq!(
        counters(&store, &rt, day(50), day(52)).await,
        [Some((5, 3, 1)); 2]
    );
    let ids = |holds: Vec<crate::api::Hold>| -> Vec<_> {
        assert!(holds.iter().all(|h| h.status == HoldStatus::Expired));
        holds.into_iter().map(|h| h.id).collect()
    };
    assert_eq!(
        ids(store.expire_holds(at(30), 2).await.expect("first sweep")),
        batch[..2],
        "oldest due first"
    );
    assert_eq!(
        ids(store.expire_holds(at(30), 2).await.expect("second sweep")),
        batch[2..]
    );
    assert_eq!(
        counters(&store, &rt, day(50), day(52)).await,
        [Some((5, 0, 1)); 2]
    );
    assert_eq!(
        store
            .get_hold(kept.id)
            .await
            .expect("get")
            .map(|h| h.status),
        Some(HoldStatus::Confirmed)
    );
}

pub(crate) async fn sold_out_holds_nothing_on_any_night(store: Arc<dyn CatalogStore>) {
    let (_, rt) = seed(&store, 1).await;
    let first = store
        .place_hold(&new_hold(&rt, day(62), day(63), 1))
        .await
        .expect("take night 62");
    let before = counters(&store, &rt, day(60), day(65)).await;
    assert_eq!(before, [None, None, Some((1, 1, 0)), None, None]);

    let request = new_hold(&rt, day(60), day(65), 1);
    let err = store
        .place_hold(&request)
        .await
        .expect_err("night 62 is taken");
    assert_eq!(err.code, ErrorCode::SoldOut);
    assert!(
        err.message.contains(&day(62).to_string()),
        "names the night: {}",
        err.message
    );
    assert!(
        err.message.contains(&rt.name),
        "names the room type: {}",
        err.message
    );
    let after = counters(&store, &rt, day(60), day(65)).await;
    assert!(
        after
            .iter()
            .flatten()
            .all(|&(_, held, sold)| held + sold <= 1),
        "{after:?}"
    );
    assert_eq!(
        after
            .iter()
            .flatten()
            .map(|&(_, held, _)| held)
            .sum::<u32>(),
        1,
        "nights 60 and 61 were given back"
    );
    assert_eq!(
        store.get_hold(request.id).await.expect("get"),
        None,
        "no hold recorded"
    );

    let two = store
        .place_hold(&new_hold(&rt, day(63), day(64), 2))
        .await
        .expect_err("only one room");
    assert_eq!(two.code, ErrorCode::SoldOut);
    assert!(
        two.message.contains(&day(63).to_string()),
        "names the night: {}",
        two.message
    );
    assert_eq!(
        counters(&store, &rt, day(63), day(64))
            .await
            .iter()
            .flatten()
            .map(|c| c.1)
            .sum::<u32>(),
        0
    );

    // The refused id was never recorded: the same request succeeds once night 62 is free.
    store
        .release_hold(first.id, T0)
        .await
        .expect("free night 62");
    assert_eq!(
        store
            .place_hold(&request)
            .await
            .expect("now it fits")
            .status,
        HoldStatus::Held
    );
    assert_eq!(
        counters(&store, &rt, day(60), day(65)).await,
        [Some((1, 1, 0)); 5]
    );
}

/// A hold answers with the nights as it left them, and every change of a night raises its
/// revision: what lets the search index take a write's nights in any order.
pub(crate) async fn every_change_of_a_night_raises_its_revision(store: Arc<dyn CatalogStore>) {
    let (_, rt) = seed(&store, 2).await;
    let revs = |nights: &[StoredNight]| nights.iter().map(|n| n.rev).collect::<Vec<_>>();
    store
        .set_rates(rt.id, day(30), day(31), 12_000, None)
        .await
        .expect("rate night 30");
    let before = stored_nights(&store, &rt, day(30), day(32)).await;
    assert_eq!(before.len(), 1, "night 30 has a row, night 31 none yet");

    let request = new_hold(&rt, day(30), day(32), 1);
    let placed = store.place_hold_with_nights(&request).await.expect("place");
    let after = stored_nights(&store, &rt, day(30), day(32)).await;
    assert_eq!(placed.nights, after, "the answer is the nights as stored");
    assert_eq!(after.iter().map(|n| n.held).collect::<Vec<_>>(), [1, 1]);
    assert!(after[0].rev > before[0].rev, "{before:?} -> {after:?}");
    assert!(after[1].rev >= 1);

    let replayed = store
        .place_hold_with_nights(&request)
        .await
        .expect("replay");
    assert_eq!(replayed.hold, placed.hold);
    assert!(replayed.nights.is_empty(), "a replay changed no night");
    assert_eq!(
        revs(&stored_nights(&store, &rt, day(30), day(32)).await),
        revs(&after)
    );

    store
        .confirm_hold(placed.hold.id, T0)
        .await
        .expect("confirm");
    let sold = raised(&store, &rt, &after).await;
    store
        .release_hold(placed.hold.id, T0)
        .await
        .expect("release");
    let released = raised(&store, &rt, &sold).await;
    store
        .set_inventory(rt.id, day(30), day(32), 1)
        .await
        .expect("allot one room");
    raised(&store, &rt, &released).await;
}

/// Nights 30 and 31 as stored now, each asserted to carry a higher revision than in `before`.
async fn raised(
    store: &Arc<dyn CatalogStore>,
    room_type: &RoomType,
    before: &[StoredNight],
) -> Vec<StoredNight> {
    let now = stored_nights(store, room_type, day(30), day(32)).await;
    assert_eq!(now.len(), before.len());
    assert!(
        now.iter().zip(before).all(|(n, b)| n.rev > b.rev),
        "{before:?} -> {now:?}"
    );
    now
}
