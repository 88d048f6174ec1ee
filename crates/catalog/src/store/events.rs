//! The catalog's events, written to the outbox in the transaction of the change they describe
//! (see `innkeeper_events` and `docs/events.md`).

use innkeeper_events::contracts::catalog::{InventoryCause, InventoryChanged, SOURCE, TOPIC};
use innkeeper_events::{Event, Outbox};
use innkeeper_kernel::{Error, HotelId, Result, RoomTypeId};
use time::{Date, OffsetDateTime};

use crate::api::{Hold, HoldStatus};

/// The catalog's outbox.
pub(crate) const OUTBOX: Outbox = Outbox::new(SOURCE, TOPIC);

/// `inventory_changed` for a hold that was placed or moved to `hold.status`.
pub(crate) fn hold_changed(hold: &Hold, now: OffsetDateTime) -> Result<Event> {
    let cause = match hold.status {
        HoldStatus::Held => InventoryCause::HoldPlaced,
        HoldStatus::Confirmed => InventoryCause::HoldConfirmed,
        HoldStatus::Released => InventoryCause::HoldReleased,
        HoldStatus::Expired => InventoryCause::HoldExpired,
    };
    inventory_changed(
        InventoryChanged {
            room_type_id: hold.room_type_id.as_uuid(),
            hotel_id: hold.hotel_id.as_uuid(),
            cause,
            hold_id: Some(hold.id.as_uuid()),
            quantity: Some(hold.quantity),
            from: hold.stay.check_in(),
            to: hold.stay.check_out(),
        },
        now,
    )
}

/// `inventory_changed` for an allotment set on `[from, to)`.
pub(crate) fn allotment_set(
    room_type_id: RoomTypeId,
    hotel_id: HotelId,
    from: Date,
    to: Date,
) -> Result<Event> {
    allotment_changed(
        InventoryCause::AllotmentSet,
        room_type_id,
        hotel_id,
        from,
        to,
    )
}

/// `inventory_changed` for the default allotment resynced to the active rooms on the nights
/// `resynced` (none: nothing changed, no event).
pub(crate) fn allotment_resynced(
    room_type_id: RoomTypeId,
    hotel_id: HotelId,
    resynced: &[Date],
) -> Result<Option<Event>> {
    let (Some(from), Some(last)) = (resynced.iter().min(), resynced.iter().max()) else {
        return Ok(None);
    };
    let to = last.next_day().unwrap_or(*last);
    allotment_changed(
        InventoryCause::AllotmentResynced,
        room_type_id,
        hotel_id,
        *from,
        to,
    )
    .map(Some)
}

fn allotment_changed(
    cause: InventoryCause,
    room_type_id: RoomTypeId,
    hotel_id: HotelId,
    from: Date,
    to: Date,
) -> Result<Event> {
    inventory_changed(
        InventoryChanged {
            room_type_id: room_type_id.as_uuid(),
            hotel_id: hotel_id.as_uuid(),
            cause,
            hold_id: None,
            quantity: None,
            from,
            to,
        },
        OffsetDateTime::now_utc(),
    )
}

fn inventory_changed(payload: InventoryChanged, time: OffsetDateTime) -> Result<Event> {
    OUTBOX
        .event(payload.room_type_id, &payload)
        .map(|event| event.at(time))
        .map_err(|e| Error::internal(format!("catalog event: {e}")))
}

/// An outbox write failure, as the store reports any database failure.
pub(crate) fn append_failed(err: sqlx::Error) -> Error {
    Error::internal(format!("catalog outbox: {err}"))
}
