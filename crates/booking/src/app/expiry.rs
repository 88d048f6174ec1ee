//! Expiry: when the catalog expires the hold of an unpaid booking, the booking expires.
//!
//! One mechanism: the catalog's hold sweeper (or its lazy expiry when a late payment tries to
//! confirm) is the only thing that gives an unpaid booking's rooms back on a timeout; this
//! consumer follows its `innkeeper.catalog.inventory_changed.v1` events with cause
//! `hold_expired` and records `expired` on the booking the hold backs now. It releases
//! nothing itself, so nothing is released twice. Runs under a Dispatcher on the booking
//! database; the `expired` event commits with the inbox row.

use std::sync::Arc;

use async_trait::async_trait;
use innkeeper_events::contracts::catalog::{InventoryCause, InventoryChanged, TOPIC};
use innkeeper_events::{Consumer, Event, HandlerError, Payload, Tx};
use innkeeper_kernel::{Clock, HoldId};

use crate::api::{Actor, BookingStatus};
use crate::domain::booking::{self, rebuild};
use crate::store::{Append, append_in_tx, booking_of_hold_in_tx, events_in_tx};

/// The consumer's name: its inbox key, Kafka group and bus subscription.
pub const CONSUMER: &str = "booking.hold_expiries";

/// Expires bookings whose holds the catalog expired.
#[derive(Debug, Clone)]
pub struct HoldExpiries {
    clock: Arc<dyn Clock>,
}

impl HoldExpiries {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }

    async fn hold_expired(&self, tx: &mut Tx, hold_id: HoldId) -> Result<(), HandlerError> {
        let Some(id) = booking_of_hold_in_tx(tx, hold_id)
            .await
            .map_err(HandlerError::retry)?
        else {
            // Not a booking's current hold (a hold placed by a modification that then failed,
            // or a hold of another client of the catalog).
            return Ok(());
        };
        let events = events_in_tx(tx, id).await.map_err(HandlerError::retry)?;
        let Some(current) = rebuild(&events).map_err(HandlerError::reject)? else {
            return Ok(());
        };
        if current.status != BookingStatus::PendingPayment || current.hold_id != hold_id {
            return Ok(());
        }
        let expired = booking::expire(
            &current,
            Actor::service("catalog.hold_expiry"),
            self.clock.now(),
        )
        .map_err(HandlerError::reject)?;
        let change = Append {
            expected_version: current.version,
            events: vec![expired.event],
            booking: expired.booking,
            idempotency: None,
            assignment: Vec::new(),
        };
        append_in_tx(tx, &change)
            .await
            .map_err(|e| HandlerError::retry(innkeeper_kernel::Error::from(e)))
    }
}

#[async_trait]
impl Consumer for HoldExpiries {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn topics(&self) -> Vec<String> {
        vec![TOPIC.to_owned()]
    }

    /// Only expired holds: every other inventory change (a hold placed for each booking made)
    /// costs this consumer nothing. A payload that does not decode is handed on, so `handle`
    /// rejects it into the dead letters rather than letting it pass unseen.
    fn wants(&self, event: &Event) -> bool {
        event.event_type == InventoryChanged::TYPE
            && event.decode::<InventoryChanged>().map_or(true, |changed| {
                changed.cause == InventoryCause::HoldExpired && changed.hold_id.is_some()
            })
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        if event.event_type != InventoryChanged::TYPE {
            return Ok(());
        }
        let changed: InventoryChanged = event.decode()?;
        match (changed.cause, changed.hold_id) {
            (InventoryCause::HoldExpired, Some(hold_id)) => {
                self.hold_expired(tx, HoldId(hold_id)).await
            }
            _ => Ok(()),
        }
    }
}
