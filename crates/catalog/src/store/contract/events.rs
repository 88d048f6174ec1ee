//! Contract: every inventory change writes its event in the same transaction, and only then.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use innkeeper_events::contracts::catalog::{InventoryCause, InventoryChanged, TOPIC};
use innkeeper_events::{
    Bus, Consumer, ConsumerSettings, Event, HandlerError, Relay, RelaySettings, Tx,
};
use innkeeper_kernel::ErrorCode;
use innkeeper_platform::db::Database;
use time::Duration;

use super::{T0, day, new_hold, room, seed};
use crate::api::{Room, RoomStatus};
use crate::store::CatalogStore;

/// Collects the inventory events it is handed.
#[derive(Default)]
struct Collector {
    seen: Mutex<Vec<(Event, InventoryChanged)>>,
}

#[async_trait]
impl Consumer for Collector {
    fn name(&self) -> &str {
        "contract-collector"
    }

    fn topics(&self) -> Vec<String> {
        vec![TOPIC.to_owned()]
    }

    async fn handle(&self, _tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let payload: InventoryChanged = event.decode()?;
        self.seen
            .lock()
            .expect("lock")
            .push((event.clone(), payload));
        Ok(())
    }
}

pub(crate) async fn every_inventory_change_publishes_one_event(
    store: Arc<dyn CatalogStore>,
    db: &Database,
) {
    let bus = Bus::new(db.clone());
    let collector = Arc::new(Collector::default());
    let consumer = bus
        .subscribe(collector.clone(), db.clone(), ConsumerSettings::default())
        .await
        .expect("subscribe");
    let relay = Relay::to_bus(bus, RelaySettings::default());

    let (hotel, rt) = seed(&store, 2).await;
    let confirmed = new_hold(&rt, day(10), day(12), 1);
    store.place_hold(&confirmed).await.expect("place");
    store
        .place_hold(&confirmed)
        .await
        .expect("replayed: no change, no event");
    store.confirm_hold(confirmed.id, T0).await.expect("confirm");
    let released = new_hold(&rt, day(10), day(11), 1);
    store.place_hold(&released).await.expect("place");
    store.release_hold(released.id, T0).await.expect("release");
    store
        .release_hold(released.id, T0)
        .await
        .expect("released again: no event");
    let expiring = new_hold(&rt, day(20), day(21), 2);
    store.place_hold(&expiring).await.expect("place");
    let sold_out = new_hold(&rt, day(20), day(21), 1);
    let refused = store.place_hold(&sold_out).await.expect_err("sold out");
    assert_eq!(refused.code, ErrorCode::SoldOut);
    store
        .expire_holds(T0 + Duration::hours(1), 10)
        .await
        .expect("expire");
    store
        .set_inventory(rt.id, day(30), day(33), 5)
        .await
        .expect("allotment");
    let refused = store
        .set_inventory(rt.id, day(10), day(12), 0)
        .await
        .expect_err("below sold");
    assert_eq!(refused.code, ErrorCode::Conflict);
    // A third room raises the default allotment of the nights materialised so far (10, 11 and
    // 20; not the hand-set 30..33); a housekeeping flip changes no allotment.
    let third = room(&rt, "103", 1, RoomStatus::Ready);
    store.insert_room(&third).await.expect("add a room");
    let dirty = Room {
        status: RoomStatus::Dirty,
        ..third.clone()
    };
    store.update_room(&dirty, 1).await.expect("housekeeping");

    while relay.relay_once().await.expect("relay") > 0 {}
    while consumer.poll_once().await.expect("poll") > 0 {}
    let seen = collector.seen.lock().expect("lock").clone();
    let causes: Vec<(InventoryCause, Option<uuid::Uuid>)> =
        seen.iter().map(|(_, p)| (p.cause, p.hold_id)).collect();
    assert_eq!(
        causes,
        vec![
            (InventoryCause::HoldPlaced, Some(confirmed.id.as_uuid())),
            (InventoryCause::HoldConfirmed, Some(confirmed.id.as_uuid())),
            (InventoryCause::HoldPlaced, Some(released.id.as_uuid())),
            (InventoryCause::HoldReleased, Some(released.id.as_uuid())),
            (InventoryCause::HoldPlaced, Some(expiring.id.as_uuid())),
            (InventoryCause::HoldExpired, Some(expiring.id.as_uuid())),
            (InventoryCause::AllotmentSet, None),
            (InventoryCause::AllotmentResynced, None),
        ]
    );
    for (event, payload) in &seen {
        assert_eq!(event.event_type, "innkeeper.catalog.inventory_changed.v1");
        assert_eq!(event.source, "/innkeeper/catalog");
        assert_eq!(event.subject, rt.id.to_string());
        assert_eq!(
            (payload.room_type_id, payload.hotel_id),
            (rt.id.as_uuid(), hotel.id.as_uuid())
        );
    }
    let (_, expired) = &seen[5];
    assert_eq!(
        (expired.from, expired.to, expired.quantity),
        (day(20), day(21), Some(2))
    );
    let (_, allotment) = &seen[6];
    assert_eq!((allotment.from, allotment.to), (day(30), day(33)));
    let (_, resynced) = &seen[7];
    assert_eq!(
        (resynced.from, resynced.to, resynced.quantity),
        (day(10), day(21), None)
    );
}
