//! The booking's events as published: one outbox event per stream event, written in the
//! transaction that appends it (see `innkeeper_events` and [`crate::contracts`]).

use innkeeper_events::{Event, Outbox, Payload};
use innkeeper_kernel::{Error, Result};

use crate::api::Booking;
use crate::contracts::*;
use crate::domain::events::{BookingEvent, RecordedEvent};

/// The booking service's outbox.
pub(crate) const OUTBOX: Outbox = Outbox::new(SOURCE, TOPIC);

/// The outbox event of `event`, which brought the booking to `booking` (or, for an append of
/// several events, past it: the status is the one after the last).
pub(crate) fn outbox_event(event: &RecordedEvent, booking: &Booking) -> Result<Event> {
    let notice = BookingNotice {
        booking_id: booking.id.as_uuid(),
        reference: booking.reference.as_str().to_owned(),
        version: event.version,
        status: booking.status,
        guest_id: booking.guest_id.as_uuid(),
        hotel_id: booking.hotel_id.as_uuid(),
        room_type_id: booking.room_type_id.as_uuid(),
        check_in: booking.stay.check_in(),
        check_out: booking.stay.check_out(),
        actor: event.actor.clone(),
        data: event.event.data(),
    };
    let built = match &event.event {
        BookingEvent::Created(_) => build(booking, BookingCreated(notice)),
        BookingEvent::Confirmed { .. } => build(booking, BookingConfirmed(notice)),
        BookingEvent::Cancelled { .. } => build(booking, BookingCancelled(notice)),
        BookingEvent::Refunded { .. } => build(booking, BookingRefunded(notice)),
        BookingEvent::BalancePaid { .. } => build(booking, BookingBalancePaid(notice)),
        BookingEvent::Expired {} => build(booking, BookingExpired(notice)),
        BookingEvent::CheckedIn { .. } => build(booking, BookingCheckedIn(notice)),
        BookingEvent::CheckedOut {} => build(booking, BookingCheckedOut(notice)),
        BookingEvent::NoShow {} => build(booking, BookingNoShow(notice)),
        BookingEvent::Modified(_) => build(booking, BookingModified(notice)),
        BookingEvent::Upgraded { .. } => build(booking, BookingUpgraded(notice)),
    };
    built.map(|e| e.at(event.at))
}

fn build<P: Payload>(booking: &Booking, payload: P) -> Result<Event> {
    OUTBOX
        .event(booking.id, &payload)
        .map_err(|e| Error::internal(format!("booking event: {e}")))
}

/// An outbox write failure.
pub(crate) fn append_failed(err: sqlx::Error) -> Error {
    Error::internal(format!("booking outbox: {err}"))
}
