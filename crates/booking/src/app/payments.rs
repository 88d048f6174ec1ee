//! The saga's payment step:
//! - `innkeeper.payment.succeeded.v1` of the booking's payment confirms the booking and turns
//!   its hold into a sale; of the balance a change left owing, records `balance_paid`. A
//!   payment that is not the one the booking waits for (replaced by a change, or `late`:
//!   given up before the money came) is counted for nothing: the payment service refunds it;
//! - `innkeeper.payment.failed.v1` of the booking's payment cancels an unpaid booking (reason
//!   `payment_failed`); the `cancelled` event gives its hold back through `releases`, as any
//!   cancellation;
//! - `innkeeper.payment.refunded.v1` records the refund on the booking (`refunded`, status
//!   unchanged); a refund already recorded (by its id) is not recorded twice.
//!
//! Runs under an `innkeeper_events::Dispatcher` on the booking database: the `confirmed`
//! event, its projection and outbox row commit with the dispatcher's inbox row, so a
//! redelivered payment has no second effect. The catalog is told first (confirming a hold is
//! idempotent by hold id), then the booking is recorded: a crash in between confirms the
//! hold again on redelivery.

use std::sync::Arc;

use async_trait::async_trait;
use innkeeper_catalog::api::CatalogClient;
use innkeeper_events::{Consumer, Event, HandlerError, Payload, Tx};
use innkeeper_kernel::{Clock, ErrorCode};

use crate::api::{Actor, Booking, BookingId, BookingStatus, PaymentState};
use crate::contracts::{PAYMENT_TOPIC, PaymentFailed, PaymentRefunded, PaymentSucceeded};
use crate::domain::booking::{self, rebuild};
use crate::domain::events::BookingEvent;
use crate::store::{Append, append_in_tx, events_in_tx};

/// The payment service's reason for refunding money that came for a payment it had given up.
const LATE_PAYMENT: &str = "late_payment";

/// The consumer's name: its inbox key, Kafka group and bus subscription.
pub const CONSUMER: &str = "booking.payment_outcomes";

/// Reacts to the payment service's events.
#[derive(Debug, Clone)]
pub struct PaymentOutcomes {
    catalog: CatalogClient,
    clock: Arc<dyn Clock>,
}

impl PaymentOutcomes {
    /// A consumer confirming holds through `catalog`.
    pub(crate) fn new(catalog: CatalogClient, clock: Arc<dyn Clock>) -> Self {
        Self { catalog, clock }
    }

    async fn payment_succeeded(
        &self,
        tx: &mut Tx,
        paid: PaymentSucceeded,
    ) -> Result<(), HandlerError> {
        let id = BookingId(paid.booking_id);
        let events = events_in_tx(tx, id).await.map_err(HandlerError::retry)?;
        let Some(current) = rebuild(&events).map_err(HandlerError::reject)? else {
            if paid.late {
                // A payment whose booking was never recorded (swept as an orphan) and paid all
                // the same: the payment service refunds it.
                tracing::warn!(booking_id = %id, payment_id = %paid.payment_id,
                    "late payment for a booking that was never recorded");
                return Ok(());
            }
            return Err(HandlerError::reject(format!(
                "payment {} is for booking {id}, which does not exist",
                paid.payment_id
            )));
        };
        if paid.late || !awaited(&current, paid.payment_id) {
            tracing::info!(booking_id = %id, payment_id = %paid.payment_id, late = paid.late,
                "a payment the booking does not wait for; the payment service refunds it");
            return Ok(());
        }
        match current.status {
            BookingStatus::PendingPayment => {}
            BookingStatus::Confirmed | BookingStatus::CheckedIn => {
                if current.payment.status != PaymentState::BalanceDue {
                    return Ok(());
                }
                let decided = booking::pay_balance(
                    &current,
                    paid.payment_id,
                    paid.amount,
                    Actor::service("payment"),
                    self.clock.now(),
                )
                .map_err(HandlerError::reject)?;
                return append(tx, &decided).await;
            }
            BookingStatus::CheckedOut | BookingStatus::NoShow => return Ok(()),
            BookingStatus::Cancelled | BookingStatus::Expired => {
                // The money came after the booking ended: the payment saga refunds it.
                tracing::warn!(booking_id = %id, status = %current.status, payment_id = %paid.payment_id,
                    "payment for a booking that is no longer waiting for one");
                return Ok(());
            }
        }
        let decided = booking::confirm(
            &current,
            paid.payment_id,
            paid.amount,
            Actor::service("payment"),
            self.clock.now(),
        )
        .map_err(HandlerError::reject)?;
        match self.catalog.confirm_hold(current.hold_id).await {
            Ok(_) => {}
            Err(err) if err.code == ErrorCode::InvalidState => {
                // The hold lapsed before the payment arrived: the rooms may be sold to someone
                // else. The booking expires; the payment saga refunds.
                tracing::warn!(booking_id = %id, error = %err, "paid after the hold lapsed");
                let expired =
                    booking::expire(&current, Actor::service("payment"), self.clock.now())
                        .map_err(HandlerError::reject)?;
                return append(tx, &expired).await;
            }
            Err(err) => return Err(HandlerError::retry(err)),
        }
        append(tx, &decided).await
    }
}

impl PaymentOutcomes {
    async fn payment_failed(&self, tx: &mut Tx, failed: PaymentFailed) -> Result<(), HandlerError> {
        let id = BookingId(failed.booking_id);
        let events = events_in_tx(tx, id).await.map_err(HandlerError::retry)?;
        let Some(current) = rebuild(&events).map_err(HandlerError::reject)? else {
            return Err(HandlerError::reject(format!(
                "payment {} failed for booking {id}, which does not exist",
                failed.payment_id
            )));
        };
        if current.status != BookingStatus::PendingPayment || !awaited(&current, failed.payment_id)
        {
            // Ended already (expired, cancelled by the guest), paid after all (a later
            // success wins), or a payment a change replaced: nothing to cancel.
            tracing::info!(booking_id = %id, status = %current.status,
                "payment failed for a booking no longer waiting for it");
            return Ok(());
        }
        let decided = booking::fail_payment(
            &current,
            failed.payment_id,
            failed.code,
            Actor::service("payment"),
            self.clock.now(),
        )
        .map_err(HandlerError::reject)?;
        append(tx, &decided).await
    }

    async fn payment_refunded(
        &self,
        tx: &mut Tx,
        refunded: PaymentRefunded,
    ) -> Result<(), HandlerError> {
        let id = BookingId(refunded.booking_id);
        let events = events_in_tx(tx, id).await.map_err(HandlerError::retry)?;
        let Some(current) = rebuild(&events).map_err(HandlerError::reject)? else {
            if refunded.reason == LATE_PAYMENT {
                // The refund of money paid for a booking that was never recorded (its payment
                // was swept as an orphan): nothing here to record it on.
                tracing::info!(booking_id = %id, refund_id = %refunded.refund_id,
                    "late payment refunded for a booking that was never recorded");
                return Ok(());
            }
            return Err(HandlerError::reject(format!(
                "refund {} is for booking {id}, which does not exist",
                refunded.refund_id
            )));
        };
        let known = events.iter().any(|e| {
            matches!(&e.event, BookingEvent::Refunded { refund_id, .. } if *refund_id == refunded.refund_id)
        });
        if known {
            return Ok(());
        }
        let decided = booking::record_refund(
            &current,
            booking::RefundMade {
                payment_id: refunded.payment_id,
                refund_id: refunded.refund_id,
                amount: refunded.amount,
                total_refunded: refunded.total_refunded,
                reason: refunded.reason,
            },
            Actor::service("payment"),
            self.clock.now(),
        )
        .map_err(HandlerError::reject)?;
        append(tx, &decided).await
    }
}

/// Whether `payment_id` is the payment the booking waits for: the one its latest link names
/// (its price, or a balance owed). A booking without a link (made where no payment service
/// ran) takes any.
fn awaited(booking: &Booking, payment_id: uuid::Uuid) -> bool {
    booking
        .payment
        .payment_id
        .is_none_or(|current| current == payment_id)
}

async fn append(tx: &mut Tx, decided: &booking::Decided) -> Result<(), HandlerError> {
    let change = Append {
        expected_version: decided.event.version - 1,
        events: vec![decided.event.clone()],
        booking: decided.booking.clone(),
        idempotency: None,
        assignment: Vec::new(),
    };
    append_in_tx(tx, &change)
        .await
        .map_err(|e| HandlerError::retry(innkeeper_kernel::Error::from(e)))
}

#[async_trait]
impl Consumer for PaymentOutcomes {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn topics(&self) -> Vec<String> {
        vec![PAYMENT_TOPIC.to_owned()]
    }

    /// Only the payment outcomes it records.
    fn wants(&self, event: &Event) -> bool {
        [
            PaymentSucceeded::TYPE,
            PaymentFailed::TYPE,
            PaymentRefunded::TYPE,
        ]
        .contains(&event.event_type.as_str())
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        if event.event_type == PaymentSucceeded::TYPE {
            let paid: PaymentSucceeded = event.decode()?;
            return self.payment_succeeded(tx, paid).await;
        }
        if event.event_type == PaymentFailed::TYPE {
            let failed: PaymentFailed = event.decode()?;
            return self.payment_failed(tx, failed).await;
        }
        if event.event_type == PaymentRefunded::TYPE {
            let refunded: PaymentRefunded = event.decode()?;
            return self.payment_refunded(tx, refunded).await;
        }
        Ok(())
    }
}
