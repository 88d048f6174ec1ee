//! Contract: room types and rooms.

use std::sync::Arc;

use innkeeper_kernel::{ErrorCode, HotelId, RoomId, RoomTypeId};

use super::{counters, day, hotel, new_hold, room, room_type, seed};
use crate::api::{Bed, BedKind, Room, RoomStatus};
use crate::store::CatalogStore;

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
