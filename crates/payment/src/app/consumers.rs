//! The saga's booking side: what the end of a booking does to its payment.
//!
//! - `innkeeper.booking.expired.v1`: an unpaid payment is cancelled (here at once, at the
//!   provider by the worker); a paid one (the money came while the booking expired) is
//!   refunded in full.
//! - `innkeeper.booking.cancelled.v1`: a paid payment is refunded by the amount the booking
//!   recorded (`data.refund.amount`, from the cancellation policy), or in full when the
//!   booking recorded nothing paid (the money came after it was cancelled); an unpaid one is
//!   cancelled.
//!
//! Runs under an `innkeeper_events::Dispatcher` on the payment database: the decision, the
//! refund it owes and the inbox row commit together, so a redelivered event has no second
//! effect; the provider is called afterwards by the worker, never inside the transaction.

use std::sync::Arc;

use async_trait::async_trait;
use innkeeper_events::{Consumer, Event, HandlerError, Tx};
use innkeeper_kernel::Money;
use uuid::Uuid;

use super::PaymentService;
use crate::contracts::{
    BOOKING_CANCELLED, BOOKING_EXPIRED, BOOKING_TOPIC, BookingNotice, CancellationRefund,
};
use crate::domain::intent::{Ending, on_booking_ended};
use crate::store::{self, CancelState};

/// The consumer's name: its inbox key, Kafka group and bus subscription.
pub const CONSUMER: &str = "payment.booking_outcomes";

/// Cancels or refunds the payments of bookings that ended.
#[derive(Debug, Clone)]
pub struct BookingOutcomes {
    service: Arc<PaymentService>,
}

/// What the booking's end asks for when the payment was made.
enum Owed {
    /// Everything not yet refunded.
    All,
    /// This much (none when zero).
    Amount(Money),
}

impl BookingOutcomes {
    pub(crate) fn new(service: Arc<PaymentService>) -> Self {
        Self { service }
    }

    async fn booking_ended(
        &self,
        tx: &mut Tx,
        booking_id: Uuid,
        owed: Owed,
        reason: &str,
    ) -> Result<(), HandlerError> {
        let now = self.service.clock().now();
        let Some(current) = store::intent_for_booking_in(tx, booking_id)
            .await
            .map_err(HandlerError::retry)?
        else {
            // A booking whose payment was never created (the provider was down at booking).
            return Ok(());
        };
        match on_booking_ended(current.intent.status) {
            Ending::Nothing => Ok(()),
            Ending::Cancel => {
                let mut next = current.clone();
                next.intent.status = crate::api::PaymentStatus::Canceled;
                next.intent.version += 1;
                next.intent.updated_at = now;
                next.cancel = CancelState::Pending;
                next.cancel_next_at = now;
                store::update_intent(tx, &next, current.intent.version)
                    .await
                    .map_err(HandlerError::retry)?;
                self.service.work_queued.notify_one();
                Ok(())
            }
            Ending::Refund => {
                let amount = match owed {
                    Owed::All => None,
                    Owed::Amount(m) if m.amount <= 0 => return Ok(()),
                    Owed::Amount(m) => Some(m),
                };
                match self
                    .service
                    .owe_refund(tx, &current, amount, reason, reason, now)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(err) if err.code == innkeeper_kernel::ErrorCode::Internal => {
                        Err(HandlerError::retry(err))
                    }
                    Err(err) if err.code == innkeeper_kernel::ErrorCode::Unavailable => {
                        Err(HandlerError::retry(err))
                    }
                    // The booking's refund cannot be made as recorded (another currency, more
                    // than is left): nothing retrying can change.
                    Err(err) => Err(HandlerError::reject(err)),
                }
            }
        }
    }
}

#[async_trait]
impl Consumer for BookingOutcomes {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn topics(&self) -> Vec<String> {
        vec![BOOKING_TOPIC.to_owned()]
    }

    /// Only the ends of bookings: expired and cancelled.
    fn wants(&self, event: &Event) -> bool {
        event.event_type == BOOKING_EXPIRED || event.event_type == BOOKING_CANCELLED
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        let expired = event.event_type == BOOKING_EXPIRED;
        if !expired && event.event_type != BOOKING_CANCELLED {
            return Ok(());
        }
        let notice: BookingNotice = serde_json::from_slice(&event.data)
            .map_err(|e| HandlerError::reject(format!("{}: {e}", event.event_type)))?;
        if expired {
            return self
                .booking_ended(tx, notice.booking_id, Owed::All, "expired")
                .await;
        }
        let refund: CancellationRefund = serde_json::from_value(notice.data["refund"].clone())
            .map_err(|e| HandlerError::reject(format!("cancelled without a refund: {e}")))?;
        let owed = if refund.rule == "nothing_paid" {
            // Nothing was paid when the booking was cancelled: money that came since goes back.
            Owed::All
        } else {
            Owed::Amount(refund.amount)
        };
        self.booking_ended(tx, notice.booking_id, owed, "cancellation")
            .await
    }
}
