//! Contract: rates, allotments and availability reads.

use std::sync::Arc;

use innkeeper_kernel::{ErrorCode, RoomTypeId};

use super::{counters, day, hotel, new_hold, room, room_type, seed, stored_nights};
use crate::api::RoomStatus;
use crate::store::{BoundingBox, CatalogStore, SearchScope, StoredNight};

pub(crate) async fn rates_price_nights_and_materialise_them(store: Arc<dyn CatalogStore>) {
    let (_, rt) = seed(&store, 3).await;
    assert_eq!(
        store
            .set_rates(rt.id, day(10), day(13), 18_000, Some(2))
            .await
            .expect("rates"),
        3
    );
    let nights = stored_nights(&store, &rt, day(9), day(14)).await;
    // A revision is the backend's count of changes to the row: only its order is promised.
    assert!(nights.iter().all(|n| n.rev >= 1), "{nights:?}");
    let expected: Vec<_> = (10..13)
        .zip(&nights)
        .map(|(d, stored)| StoredNight {
            night: day(d),
            total: 3,
            held: 0,
            sold: 0,
            price: Some(18_000),
            min_stay: Some(2),
            rev: stored.rev,
        })
        .collect();
    assert_eq!(
        nights, expected,
        "only the nights of [from, to), with the active rooms as total"
    );

    assert_eq!(
        store
            .set_rates(rt.id, day(12), day(14), 21_000, None)
            .await
            .expect("overlapping rates"),
        2
    );
    let prices: Vec<_> = stored_nights(&store, &rt, day(10), day(14))
        .await
        .into_iter()
        .map(|n| (n.night, n.price, n.min_stay))
        .collect();
    assert_eq!(
        prices,
        [
            (day(10), Some(18_000), Some(2)),
            (day(11), Some(18_000), Some(2)),
            (day(12), Some(21_000), None),
            (day(13), Some(21_000), None)
        ]
    );

    assert_eq!(
        store
            .set_inventory(rt.id, day(11), day(13), 5)
            .await
            .expect("allotment"),
        2
    );
    assert_eq!(
        counters(&store, &rt, day(10), day(14)).await,
        [
            Some((3, 0, 0)),
            Some((5, 0, 0)),
            Some((5, 0, 0)),
            Some((3, 0, 0))
        ]
    );
    let night = stored_nights(&store, &rt, day(12), day(13)).await;
    assert_eq!(night[0].price, Some(21_000), "an allotment keeps the price");

    let unknown = RoomTypeId::new();
    assert_eq!(
        store
            .set_rates(unknown, day(1), day(2), 100, None)
            .await
            .expect_err("unknown")
            .code,
        ErrorCode::NotFound
    );
    assert_eq!(
        store
            .set_inventory(unknown, day(1), day(2), 1)
            .await
            .expect_err("unknown")
            .code,
        ErrorCode::NotFound
    );
}

pub(crate) async fn inventory_below_held_and_sold_is_refused_whole(store: Arc<dyn CatalogStore>) {
    let (_, rt) = seed(&store, 3).await;
    store
        .set_inventory(rt.id, day(20), day(21), 4)
        .await
        .expect("allot night 20");
    let hold = store
        .place_hold(&new_hold(&rt, day(21), day(23), 2))
        .await
        .expect("hold 2 rooms on 21 and 22");
    store
        .confirm_hold(hold.id, super::T0)
        .await
        .expect("confirm");
    store
        .place_hold(&new_hold(&rt, day(22), day(23), 1))
        .await
        .expect("hold 1 more on 22");
    let before = counters(&store, &rt, day(19), day(25)).await;
    assert_eq!(
        before,
        [
            None,
            Some((4, 0, 0)),
            Some((3, 0, 2)),
            Some((3, 1, 2)),
            None,
            None
        ]
    );

    let refused = store
        .set_inventory(rt.id, day(19), day(25), 2)
        .await
        .expect_err("below held + sold on night 22");
    assert_eq!(refused.code, ErrorCode::Conflict);
    assert!(
        refused.message.contains(&day(22).to_string()),
        "names the night: {}",
        refused.message
    );
    assert_eq!(
        counters(&store, &rt, day(19), day(25)).await,
        before,
        "nothing written, nothing materialised"
    );

    assert_eq!(
        store
            .set_inventory(rt.id, day(19), day(25), 3)
            .await
            .expect("exactly held + sold"),
        6
    );
    assert_eq!(
        counters(&store, &rt, day(19), day(25)).await,
        [
            Some((3, 0, 0)),
            Some((3, 0, 0)),
            Some((3, 0, 2)),
            Some((3, 1, 2)),
            Some((3, 0, 0)),
            Some((3, 0, 0))
        ]
    );
    let full = store
        .place_hold(&new_hold(&rt, day(22), day(23), 1))
        .await
        .expect_err("night 22 is full");
    assert_eq!(full.code, ErrorCode::SoldOut);
}

pub(crate) async fn room_type_nights_follow_scope_and_capacity(store: Arc<dyn CatalogStore>) {
    let lisbon = hotel("Casa Azul", "Lisbon", 38.7223, -9.1393);
    let porto = hotel("Ribeira Inn", "Porto", 41.1400, -8.6110);
    store.insert_hotel(&lisbon).await.expect("insert");
    store.insert_hotel(&porto).await.expect("insert");
    let double = room_type(lisbon.id, "Double", 2, 12_900);
    let family = room_type(lisbon.id, "Family", 4, 19_900);
    let single = room_type(porto.id, "Single", 1, 7_900);
    for rt in [&double, &family, &single] {
        store.insert_room_type(rt).await.expect("insert room type");
        store
            .insert_room(&room(rt, &format!("{}-1", rt.name), 1, RoomStatus::Ready))
            .await
            .expect("insert room");
    }
    store
        .set_rates(double.id, day(29), day(33), 14_000, None)
        .await
        .expect("rates");
    store
        .set_rates(single.id, day(30), day(31), 9_000, None)
        .await
        .expect("rates");

    let found = store
        .room_type_nights(&SearchScope::City(" LISBON".into()), 0, day(30), day(32))
        .await
        .expect("by city");
    let mut names: Vec<_> = found.iter().map(|f| f.room_type.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["Double", "Family"]);
    let d = found
        .iter()
        .find(|f| f.room_type.id == double.id)
        .expect("double found");
    assert_eq!(d.hotel, lisbon);
    assert_eq!(d.room_type.active_rooms, 1);
    assert_eq!(
        d.nights.iter().map(|n| n.night).collect::<Vec<_>>(),
        [day(30), day(31)],
        "only [from, to), in order"
    );
    let f = found
        .iter()
        .find(|f| f.room_type.id == family.id)
        .expect("family found");
    assert!(
        f.nights.is_empty(),
        "a type without materialised nights comes with none"
    );

    let big = store
        .room_type_nights(&SearchScope::City("lisbon".into()), 3, day(30), day(32))
        .await
        .expect("capacity");
    assert_eq!(
        big.iter().map(|f| f.room_type.id).collect::<Vec<_>>(),
        [family.id]
    );

    let around_porto = BoundingBox {
        min_lat: 41.0,
        max_lat: 41.3,
        min_lon: -8.8,
        max_lon: -8.4,
    };
    let in_box = store
        .room_type_nights(&SearchScope::Area(around_porto), 1, day(30), day(32))
        .await
        .expect("by box");
    assert_eq!(in_box.len(), 1);
    assert_eq!(
        (in_box[0].room_type.id, in_box[0].hotel.id),
        (single.id, porto.id)
    );
    assert_eq!(
        in_box[0]
            .nights
            .iter()
            .map(|n| (n.night, n.price))
            .collect::<Vec<_>>(),
        [(day(30), Some(9_000))]
    );

    let one_hotel = store
        .room_type_nights(&SearchScope::Hotel(porto.id), 2, day(30), day(32))
        .await
        .expect("by hotel");
    assert!(one_hotel.is_empty(), "the single sleeps one guest");
    let one_hotel = store
        .room_type_nights(&SearchScope::Hotel(porto.id), 0, day(30), day(32))
        .await
        .expect("by hotel");
    assert_eq!(
        one_hotel.iter().map(|f| f.room_type.id).collect::<Vec<_>>(),
        [single.id]
    );
}
