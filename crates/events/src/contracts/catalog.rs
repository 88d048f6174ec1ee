//! Events of the catalog, on topic [`TOPIC`].

use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use crate::Payload;

/// The catalog's topic.
pub const TOPIC: &str = "catalog.events";

/// The catalog's CloudEvents `source`.
pub const SOURCE: &str = "/innkeeper/catalog";

/// What changed a room type's inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventoryCause {
    /// A hold took rooms (`held` rose).
    HoldPlaced,
    /// A hold was confirmed (`held` became `sold`).
    HoldConfirmed,
    /// A hold was released (its rooms are on sale again).
    HoldReleased,
    /// A hold expired (its rooms are on sale again).
    HoldExpired,
    /// The hotelier set the allotment (`total`) of a range of nights.
    AllotmentSet,
    /// The default allotment of some nights followed the room type's active rooms (a room was
    /// added, moved to another type, or taken in or out of service); hand-set allotments stay.
    AllotmentResynced,
}

/// `innkeeper.catalog.inventory_changed.v1`: the counters of some nights of a room type
/// changed. Subject (and Kafka key): the room type id. Readers re-read the nights they care
/// about; the event says which and why, not the new counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryChanged {
    /// The room type whose nights changed.
    pub room_type_id: Uuid,
    /// Its hotel.
    pub hotel_id: Uuid,
    /// Why.
    pub cause: InventoryCause,
    /// The hold behind the change, if a hold was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<Uuid>,
    /// Rooms moved per night (for holds); absent for allotments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// First night changed.
    pub from: Date,
    /// The night after the last one changed.
    pub to: Date,
}

impl Payload for InventoryChanged {
    const TYPE: &'static str = "innkeeper.catalog.inventory_changed.v1";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_the_documented_one() {
        let event = InventoryChanged {
            room_type_id: Uuid::nil(),
            hotel_id: Uuid::nil(),
            cause: InventoryCause::HoldPlaced,
            hold_id: Some(Uuid::nil()),
            quantity: Some(2),
            from: time::macros::date!(2026 - 12 - 01),
            to: time::macros::date!(2026 - 12 - 03),
        };
        let json = serde_json::to_value(&event).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({
                "room_type_id": "00000000-0000-0000-0000-000000000000",
                "hotel_id": "00000000-0000-0000-0000-000000000000",
                "cause": "hold_placed",
                "hold_id": "00000000-0000-0000-0000-000000000000",
                "quantity": 2,
                "from": "2026-12-01",
                "to": "2026-12-03"
            })
        );
        let back: InventoryChanged = serde_json::from_value(json).expect("parses");
        assert_eq!(back, event);
    }
}
