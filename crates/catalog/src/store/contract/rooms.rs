//! Contract: room types and rooms.

use std::sync::Arc;

use innkeeper_kernel::{ErrorCode, HotelId, RoomId, RoomTypeId};

use time::Duration;

use super::{T0, counters, day, hotel, new_hold, room, room_type, seed};
use crate::api::{Bed, BedKind, Room, RoomStatus};
use crate::store::{CatalogStore, NewHold};

pub(crate) async fn room_types_count_their_active_rooms(store: Arc<dyn CatalogStore>) {
    let h = hotel("Casa Azul", "Lisbon", 38.7223, -9.1393);
    store.insert_hotel(&h).await.expect("insert hotel");
    let suite = room_type(h.id, "Suite", 4, 30_000);
    let double = room_type(h.id, "Double", 2, 12_900);
    let twin = room_type(h.id, "Twin", 2, 12_900);
    for rt in [&suite, &double, &twin] {
        store.insert_room_type(rt).await.expect("insert room type");
    }
    for (number, status) in [
        ("101", RoomStatus::Ready),
        ("102", RoomStatus::Dirty),
        ("103", RoomStatus::OutOfService),
    ] {
        store
            .insert_room(&room(&double, number, 1, status))
            .await
            .expect("insert room");
    }

    let got = store
        .get_room_type(double.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        got.active_rooms, 2,
        "dirty rooms count, out-of-service rooms do not"
    );
    assert_eq!(got.beds, double.beds);
    assert_eq!(got.amenities, double.amenities);
    assert_eq!(got.base_price, double.base_price);
    assert_eq!(
        store
            .get_room_type(RoomTypeId::new())
            .await
            .expect("get unknown"),
        None
    );

    let listed: Vec<_> = store
        .list_room_types(h.id)
        .await
        .expect("list")
        .into_iter()
        .map(|rt| (rt.name, rt.active_rooms))
        .collect();
    let expected = [("Double", 2), ("Twin", 0), ("Suite", 0)]
        .map(|(n, a)| (n.to_owned(), a))
        .to_vec();
    assert_eq!(listed, expected, "ordered by base price, then name");

    let mut changed = got.clone();
    changed.name = "Double Deluxe".to_owned();
    changed.capacity = 3;
    changed.beds = vec![
        Bed {
            kind: BedKind::Queen,
            count: 1,
        },
        Bed {
            kind: BedKind::Sofa,
            count: 1,
        },
    ];
    changed.active_rooms = 99;
    let updated = store.update_room_type(&changed, 1).await.expect("update");
    assert_eq!(
        (updated.version, updated.capacity, updated.active_rooms),
        (2, 3, 2),
        "active rooms are counted, not written"
    );
    assert_eq!(updated.beds, changed.beds);
    assert_eq!(
        store.get_room_type(double.id).await.expect("get"),
        Some(updated)
    );
    assert_eq!(
        store
            .update_room_type(&changed, 1)
            .await
            .expect_err("stale")
            .code,
        ErrorCode::VersionMismatch
    );
    changed.id = RoomTypeId::new();
    assert_eq!(
        store
            .update_room_type(&changed, 1)
            .await
            .expect_err("unknown")
            .code,
        ErrorCode::NotFound
    );

    let orphan = room_type(HotelId::new(), "Orphan", 2, 100);
    assert_eq!(
        store
            .insert_room_type(&orphan)
            .await
            .expect_err("unknown hotel")
            .code,
        ErrorCode::NotFound
    );
}

pub(crate) async fn room_numbers_are_unique_per_hotel(store: Arc<dyn CatalogStore>) {
    let (h, rt) = seed(&store, 0).await;
    let r101 = room(&rt, "101", 1, RoomStatus::Ready);
    let r201 = room(&rt, "201", 2, RoomStatus::Ready);
    let r102 = room(&rt, "102", 1, RoomStatus::Dirty);
    for r in [&r201, &r101, &r102] {
        store.insert_room(r).await.expect("insert room");
    }
    let duplicate = store
        .insert_room(&room(&rt, "101", 3, RoomStatus::Ready))
        .await
        .expect_err("number taken");
    assert_eq!(duplicate.code, ErrorCode::Conflict);
    assert_eq!(
        duplicate.message,
        "room number 101 already exists in this hotel"
    );

    let listed: Vec<_> = store
        .list_rooms(h.id)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.number)
        .collect();
    assert_eq!(
        listed,
        ["101", "102", "201"],
        "ordered by floor, then number"
    );
    assert_eq!(
        store.get_room(r102.id).await.expect("get"),
        Some(r102.clone())
    );
    assert_eq!(
        store.get_room(RoomId::new()).await.expect("get unknown"),
        None
    );

    let (_, other_rt) = seed(&store, 0).await;
    store
        .insert_room(&room(&other_rt, "101", 1, RoomStatus::Ready))
        .await
        .expect("another hotel may reuse 101");

    let mut renumbered = r102.clone();
    renumbered.number = "201".to_owned();
    let taken = store
        .update_room(&renumbered, 1)
        .await
        .expect_err("renumber to a taken number");
    assert_eq!(taken.code, ErrorCode::Conflict);
    assert!(taken.message.contains("201"), "{}", taken.message);
    assert_eq!(
        store.get_room(r102.id).await.expect("get"),
        Some(r102.clone()),
        "nothing changed"
    );

    let unknown_type = Room {
        id: RoomId::new(),
        number: "999".into(),
        room_type_id: RoomTypeId::new(),
        ..r102
    };
    assert_eq!(
        store
            .insert_room(&unknown_type)
            .await
            .expect_err("unknown type")
            .code,
        ErrorCode::NotFound
    );
}

pub(crate) async fn room_changes_resync_default_allotments(store: Arc<dyn CatalogStore>) {
    let (h, rt) = seed(&store, 0).await;
    let (a, b) = (
        room(&rt, "101", 1, RoomStatus::Ready),
        room(&rt, "102", 1, RoomStatus::Ready),
    );
    store.insert_room(&a).await.expect("insert");
    store.insert_room(&b).await.expect("insert");
    // Nights 0..3 materialised at 2 rooms; night 0 fully held; night 2 allotted by hand.
    assert_eq!(
        store
            .set_rates(rt.id, day(0), day(3), 15_000, None)
            .await
            .expect("rates"),
        3
    );
    store
        .place_hold(&new_hold(&rt, day(0), day(1), 2))
        .await
        .expect("hold both rooms on night 0");
    store
        .set_inventory(rt.id, day(2), day(3), 5)
        .await
        .expect("manual allotment");
    assert_eq!(
        counters(&store, &rt, day(0), day(3)).await,
        [Some((2, 2, 0)), Some((2, 0, 0)), Some((5, 0, 0))]
    );

    let out = Room {
        status: RoomStatus::OutOfService,
        ..a.clone()
    };
    let a2 = store
        .update_room(&out, 1)
        .await
        .expect("take room out of service");
    assert_eq!(a2.version, 2);
    assert_eq!(
        store
            .get_room_type(rt.id)
            .await
            .expect("get")
            .map(|t| t.active_rooms),
        Some(1)
    );
    assert_eq!(
        counters(&store, &rt, day(0), day(3)).await,
        [Some((2, 2, 0)), Some((1, 0, 0)), Some((5, 0, 0))],
        "never below held + sold; manual allotments untouched"
    );

    store
        .insert_room(&room(&rt, "103", 1, RoomStatus::Dirty))
        .await
        .expect("a third room");
    assert_eq!(
        counters(&store, &rt, day(0), day(3)).await,
        [Some((2, 2, 0)), Some((2, 0, 0)), Some((5, 0, 0))]
    );
    let back = Room {
        status: RoomStatus::Ready,
        ..a2.clone()
    };
    store.update_room(&back, 2).await.expect("back in service");
    assert_eq!(
        counters(&store, &rt, day(0), day(3)).await,
        [Some((3, 2, 0)), Some((3, 0, 0)), Some((5, 0, 0))]
    );

    // Moving a room to another type resyncs both types.
    let mut suite = room_type(h.id, "Suite", 4, 30_000);
    store.insert_room_type(&suite).await.expect("insert suite");
    store
        .set_rates(suite.id, day(1), day(2), 30_000, None)
        .await
        .expect("rates");
    assert_eq!(
        counters(&store, &suite, day(1), day(2)).await,
        [Some((0, 0, 0))]
    );
    let moved = Room {
        room_type_id: suite.id,
        ..b.clone()
    };
    store
        .update_room(&moved, 1)
        .await
        .expect("move room 102 to the suite type");
    suite.active_rooms = 1;
    assert_eq!(
        counters(&store, &suite, day(1), day(2)).await,
        [Some((1, 0, 0))]
    );
    assert_eq!(
        counters(&store, &rt, day(1), day(2)).await,
        [Some((2, 0, 0))]
    );

    assert_eq!(
        store.update_room(&moved, 1).await.expect_err("stale").code,
        ErrorCode::VersionMismatch
    );
    let ghost = Room {
        id: RoomId::new(),
        ..moved
    };
    assert_eq!(
        store
            .update_room(&ghost, 1)
            .await
            .expect_err("unknown")
            .code,
        ErrorCode::NotFound
    );
}

/// Rooms taken out of service while booked leave a night's default total at `held + sold`;
/// as those rooms come back (release, expiry, release after confirmation) the total follows
/// the active rooms again, never below what stays held or sold. Manual allotments stay put.
pub(crate) async fn default_allotments_follow_active_rooms_as_rooms_come_back(
    store: Arc<dyn CatalogStore>,
) {
    let (_, rt) = seed(&store, 0).await;
    let mut rooms = Vec::new();
    for number in ["201", "202", "203"] {
        let r = room(&rt, number, 2, RoomStatus::Ready);
        store.insert_room(&r).await.expect("insert");
        rooms.push(r);
    }
    let at = |minutes: i64| T0 + Duration::minutes(minutes);
    // Nights 70..72 on the default allotment, night 72 allotted by hand.
    store
        .set_inventory(rt.id, day(72), day(73), 3)
        .await
        .expect("manual allotment");
    let released = store
        .place_hold(&new_hold(&rt, day(70), day(73), 1))
        .await
        .expect("hold 1");
    let confirmed = store
        .place_hold(&new_hold(&rt, day(70), day(73), 1))
        .await
        .expect("hold 2");
    store
        .confirm_hold(confirmed.id, at(1))
        .await
        .expect("confirm");
    let expiring = store
        .place_hold(&NewHold {
            expires_at: at(5),
            ..new_hold(&rt, day(70), day(72), 1)
        })
        .await
        .expect("hold 3");
    assert_eq!(
        counters(&store, &rt, day(70), day(73)).await,
        [Some((3, 2, 1)), Some((3, 2, 1)), Some((3, 1, 1))]
    );

    // Every room out of service: nothing below held + sold, so the defaults stay at 3.
    for r in &rooms {
        let out = Room {
            status: RoomStatus::OutOfService,
            ..r.clone()
        };
        store.update_room(&out, 1).await.expect("out of service");
    }
    assert_eq!(
        counters(&store, &rt, day(70), day(73)).await,
        [Some((3, 2, 1)), Some((3, 2, 1)), Some((3, 1, 1))]
    );

    // Each room given back lowers the default total with it, to held + sold (0 active).
    store
        .release_hold(released.id, at(2))
        .await
        .expect("release held");
    assert_eq!(
        counters(&store, &rt, day(70), day(73)).await,
        [Some((2, 1, 1)), Some((2, 1, 1)), Some((3, 0, 1))]
    );
    let swept = store.expire_holds(at(5), 10).await.expect("sweep");
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].id, expiring.id);
    assert_eq!(
        counters(&store, &rt, day(70), day(73)).await,
        [Some((1, 0, 1)), Some((1, 0, 1)), Some((3, 0, 1))]
    );

    // One room back in service: the defaults rise to it (resync), and once the sold room
    // is given back they stay at the active count, not at 0.
    let back = Room {
        status: RoomStatus::Ready,
        version: 2,
        ..rooms[0].clone()
    };
    store.update_room(&back, 2).await.expect("back in service");
    assert_eq!(
        counters(&store, &rt, day(70), day(73)).await,
        [Some((1, 0, 1)), Some((1, 0, 1)), Some((3, 0, 1))]
    );
    store
        .release_hold(confirmed.id, at(6))
        .await
        .expect("release confirmed");
    assert_eq!(
        counters(&store, &rt, day(70), day(73)).await,
        [Some((1, 0, 0)), Some((1, 0, 0)), Some((3, 0, 0))],
        "defaults at the one active room; the manual night untouched"
    );

    // A new night is materialised at the active count, and a hold there is capped by it.
    store
        .place_hold(&new_hold(&rt, day(73), day(74), 1))
        .await
        .expect("the one active room");
    assert_eq!(
        store
            .place_hold(&new_hold(&rt, day(73), day(74), 1))
            .await
            .expect_err("only one room in service")
            .code,
        ErrorCode::SoldOut
    );
}
