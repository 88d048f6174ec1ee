//! Durable hold releases: the booking service's own events drive them.
//!
//! Cancelling and modifying record the change first and then give the old hold back at once;
//! if the process dies in between (or the catalog is down), the hold would stay, and a
//! confirmed hold never expires on its own. This consumer reads `booking.events` and gives
//! back the hold a `cancelled` event ended or a `modified` or `upgraded` event replaced. Releasing is
//! idempotent by hold id in the catalog, so the immediate release and this one never free
//! rooms twice.

use async_trait::async_trait;
use innkeeper_catalog::api::CatalogClient;
use innkeeper_events::{Consumer, Event, HandlerError, Payload, Tx};
use innkeeper_kernel::{ErrorCode, HoldId};

use crate::api::BookingId;
use crate::contracts::{BookingCancelled, BookingModified, BookingNotice, BookingUpgraded, TOPIC};
use crate::domain::booking::rebuild;
use crate::store::events_in_tx;

/// The consumer's name: its inbox key, Kafka group and bus subscription.
pub const CONSUMER: &str = "booking.hold_releases";

/// Gives back the holds of cancelled bookings and the replaced holds of modified ones.
#[derive(Debug, Clone)]
pub struct HoldReleases {
    catalog: CatalogClient,
}

impl HoldReleases {
    pub(crate) fn new(catalog: CatalogClient) -> Self {
        Self { catalog }
    }

    /// The hold the event at `version` of the booking ended or replaced.
    async fn hold_to_release(
        tx: &mut Tx,
        notice: &BookingNotice,
        cancelled: bool,
    ) -> Result<Option<HoldId>, HandlerError> {
        let events = events_in_tx(tx, BookingId(notice.booking_id))
            .await
            .map_err(HandlerError::retry)?;
        let upto = usize::try_from(notice.version).unwrap_or(0);
        if upto == 0 || upto > events.len() {
            return Err(HandlerError::reject(format!(
                "booking {} has no version {}",
                notice.booking_id, notice.version
            )));
        }
        let before = rebuild(&events[..upto - 1]).map_err(HandlerError::reject)?;
        let after = rebuild(&events[..upto]).map_err(HandlerError::reject)?;
        Ok(match (before, after) {
            (_, Some(after)) if cancelled => Some(after.hold_id),
            (Some(before), Some(after)) if before.hold_id != after.hold_id => Some(before.hold_id),
            _ => None,
        })
    }
}

#[async_trait]
impl Consumer for HoldReleases {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn topics(&self) -> Vec<String> {
        vec![TOPIC.to_owned()]
    }

    /// Only the events that end or replace a hold (most booking events, `created` first of
    /// all, cost this consumer nothing).
    fn wants(&self, event: &Event) -> bool {
        [
            BookingCancelled::TYPE,
            BookingModified::TYPE,
            BookingUpgraded::TYPE,
        ]
        .contains(&event.event_type.as_str())
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let cancelled = event.event_type == BookingCancelled::TYPE;
        let replaced =
            [BookingModified::TYPE, BookingUpgraded::TYPE].contains(&event.event_type.as_str());
        if !cancelled && !replaced {
            return Ok(());
        }
        let notice: BookingNotice = serde_json::from_slice(&event.data)
            .map_err(|e| HandlerError::reject(format!("malformed booking event: {e}")))?;
        let Some(hold_id) = Self::hold_to_release(tx, &notice, cancelled).await? else {
            return Ok(());
        };
        match self.catalog.release_hold(hold_id).await {
            Ok(_) => Ok(()),
            Err(err) if err.code == ErrorCode::NotFound => Ok(()),
            Err(err) => Err(HandlerError::retry(err)),
        }
    }
}
