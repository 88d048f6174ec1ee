//! The saga's booking side: what the booking's events do to its payments.
//!
//! - `innkeeper.booking.created.v1` and `...modified.v1` **adopt** the payment they name
//!   (`data.payment.payment_id`): a payment no booking event ever names belongs to a booking or
//!   a change that was never recorded, and the worker cancels it once it is
//!   `orphan_intent_after` old ([`super::worker`]).
//! - `innkeeper.booking.modified.v1` settles the change as the booking decided it
//!   ([`ChangeSettlement`]): the payments it `superseded` are cancelled (refunded in full if
//!   they were paid all the same: the booking never counts them), and `refund_due` goes back
//!   from what was paid, under the key `modification-<version>` on each payment it is drawn
//!   from (a partial refund at the provider; the booking lowered `paid` when it decided it).
//! - `innkeeper.booking.expired.v1`: open payments are cancelled (here at once, at the
//!   provider by the worker); paid ones (the money came while the booking expired) are
//!   refunded in full.
//! - `innkeeper.booking.cancelled.v1`: open payments are cancelled; what was paid is refunded
//!   by the amount the booking recorded (`data.refund.amount`, from the cancellation policy,
//!   applied to what the booking counted as paid) plus any money the booking never counted
//!   (a balance paid while the cancellation was being decided), or in full when the booking
//!   recorded nothing paid.
//! - `innkeeper.booking.checked_in.v1` and `...no_show.v1`: open payments (a balance still
//!   owed) are cancelled: the front desk settles what is left.
//!
//! Runs under an `innkeeper_events::Dispatcher` on the payment database: the decision, the
//! refunds it owes and the inbox row commit together, so a redelivered event has no second
//! effect (and every refund is keyed, so even a decision made twice owes once); the provider is
//! called afterwards by the worker, never inside the transaction.

use std::sync::Arc;

use async_trait::async_trait;
use innkeeper_events::{Consumer, Event, HandlerError, Tx};
use innkeeper_kernel::{Error, ErrorCode, Money};
use time::OffsetDateTime;
use uuid::Uuid;

use super::PaymentService;
use crate::api::{PaymentId, PaymentStatus, RefundStatus};
use crate::contracts::{
    BOOKING_CANCELLED, BOOKING_CHECKED_IN, BOOKING_CREATED, BOOKING_EXPIRED, BOOKING_MODIFIED,
    BOOKING_NO_SHOW, BOOKING_TOPIC, BookingNotice, CancellationRefund, ChangeSettlement,
    PaymentLink,
};
use crate::domain::intent::{Ending, on_booking_ended};
use crate::store::{self, CancelState, StoredIntent};

/// The consumer's name: its inbox key, Kafka group and bus subscription.
pub const CONSUMER: &str = "payment.booking_outcomes";

/// The booking events this consumer acts on.
const WANTED: [&str; 6] = [
    BOOKING_CREATED,
    BOOKING_MODIFIED,
    BOOKING_EXPIRED,
    BOOKING_CANCELLED,
    BOOKING_CHECKED_IN,
    BOOKING_NO_SHOW,
];

/// Adopts, settles, cancels or refunds the payments of bookings as their events say.
#[derive(Debug, Clone)]
pub struct BookingOutcomes {
    service: Arc<PaymentService>,
}

/// A failure of the consumer: passing ones are retried, the others go to the dead letters
/// (a refund that cannot be made as the booking recorded it: nothing retrying can change).
fn handler_error(err: Error) -> HandlerError {
    match err.code {
        ErrorCode::Internal | ErrorCode::Unavailable | ErrorCode::Conflict => {
            HandlerError::retry(err)
        }
        _ => HandlerError::reject(err),
    }
}

/// What a payment has left to refund: captured minus every refund not failed.
async fn refundable(tx: &mut Tx, intent: &StoredIntent) -> Result<i64, Error> {
    if intent.intent.status != PaymentStatus::Succeeded {
        return Ok(0);
    }
    let owed: i64 = store::refunds_in(tx, intent.intent.id)
        .await?
        .iter()
        .filter(|r| r.refund.status != RefundStatus::Failed)
        .map(|r| r.refund.amount.amount)
        .sum();
    Ok(intent.intent.amount.amount - owed)
}

impl BookingOutcomes {
    pub(crate) fn new(service: Arc<PaymentService>) -> Self {
        Self { service }
    }

    /// Records that a booking event named the payment (once; a payment of another booking, or
    /// one we do not know, is left alone).
    async fn adopt(
        &self,
        tx: &mut Tx,
        booking_id: Uuid,
        link: &PaymentLink,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let Some(current) = store::intent_in(tx, PaymentId(link.payment_id)).await? else {
            tracing::warn!(booking_id = %booking_id, payment_id = %link.payment_id,
                "a booking event names a payment this service does not have");
            return Ok(());
        };
        if current.intent.booking_id != booking_id || current.adopted_at.is_some() {
            return Ok(());
        }
        if current.intent.status == PaymentStatus::Canceled && current.cancel != CancelState::None {
            tracing::warn!(booking_id = %booking_id, payment_id = %link.payment_id,
                "a booking was recorded after its payment was swept as an orphan");
        }
        let mut next = current.clone();
        next.adopted_at = Some(now);
        next.intent.version += 1;
        next.intent.updated_at = now;
        store::update_intent(tx, &next, current.intent.version).await
    }

    /// Gives an unpaid payment up: `canceled` here at once, at the provider by the worker.
    async fn give_up(
        &self,
        tx: &mut Tx,
        current: &StoredIntent,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut next = current.clone();
        next.intent.status = PaymentStatus::Canceled;
        next.intent.version += 1;
        next.intent.updated_at = now;
        next.cancel = CancelState::Pending;
        next.cancel_next_at = now;
        store::update_intent(tx, &next, current.intent.version).await?;
        self.service.work_queued.notify_one();
        Ok(())
    }

    /// Cancels every open payment of a booking.
    async fn give_up_open(
        &self,
        tx: &mut Tx,
        booking_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        for intent in store::intents_of_booking_in(tx, booking_id).await? {
            if intent.is_open() {
                self.give_up(tx, &intent, now).await?;
            }
        }
        Ok(())
    }

    /// Owes `amount` back from the booking's paid payments, oldest first, each under `key`
    /// (a key already used on a payment counts for what it refunded). `invalid_state` if the
    /// payments do not hold that much.
    async fn refund_across(
        &self,
        tx: &mut Tx,
        booking_id: Uuid,
        amount: Money,
        (reason, key): (&str, &str),
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut left = amount.amount;
        for intent in store::intents_of_booking_in(tx, booking_id).await? {
            if left <= 0 {
                break;
            }
            if intent.intent.status != PaymentStatus::Succeeded {
                continue;
            }
            if let Some(done) = store::refund_by_key_in(tx, intent.intent.id, key).await? {
                left -= done.refund.amount.amount;
                continue;
            }
            let take = refundable(tx, &intent).await?.min(left);
            if take <= 0 {
                continue;
            }
            let part = Money {
                amount: take,
                currency: amount.currency,
            };
            self.service
                .owe_refund(tx, &intent, Some(part), reason, key, now)
                .await?;
            left -= take;
        }
        if left > 0 {
            return Err(Error::invalid_state(format!(
                "booking {booking_id}: {left} of the {} to refund ({reason}) was never paid",
                amount.amount
            )));
        }
        Ok(())
    }

    /// Refunds everything left on each paid payment of the booking, under `key`.
    async fn refund_all(
        &self,
        tx: &mut Tx,
        booking_id: Uuid,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        for intent in store::intents_of_booking_in(tx, booking_id).await? {
            if on_booking_ended(intent.intent.status) == Ending::Refund {
                self.service
                    .owe_refund(tx, &intent, None, reason, reason, now)
                    .await?;
            }
        }
        Ok(())
    }

    /// What the booking's paid payments hold that is not owed back yet.
    async fn net_captured(&self, tx: &mut Tx, booking_id: Uuid) -> Result<i64, Error> {
        let mut total = 0;
        for intent in store::intents_of_booking_in(tx, booking_id).await? {
            total += refundable(tx, &intent).await?;
        }
        Ok(total)
    }

    /// `modified`: adopt the change's payment, give up what it superseded, refund what it
    /// owes back.
    async fn modified(
        &self,
        tx: &mut Tx,
        notice: &BookingNotice,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let booking_id = notice.booking_id;
        let change: ChangeSettlement = serde_json::from_value(notice.data.clone())
            .map_err(|e| Error::invalid_request(format!("modified: {e}")))?;
        if let Some(link) = &change.payment {
            self.adopt(tx, booking_id, link, now).await?;
        }
        for superseded in &change.superseded {
            let Some(intent) = store::intent_in(tx, PaymentId(*superseded)).await? else {
                continue;
            };
            if intent.intent.booking_id != booking_id {
                continue;
            }
            match on_booking_ended(intent.intent.status) {
                Ending::Cancel => self.give_up(tx, &intent, now).await?,
                // Paid while the change was being made: the booking never counts it.
                Ending::Refund => {
                    self.service
                        .owe_refund(tx, &intent, None, "superseded", "superseded", now)
                        .await?;
                }
                Ending::Nothing => {}
            }
        }
        if let Some(due) = change.refund_due.filter(|m| m.amount > 0) {
            let key = format!("modification-{}", notice.version);
            self.refund_across(tx, booking_id, due, ("modification", &key), now)
                .await?;
        }
        Ok(())
    }

    /// `cancelled`: give up open payments, refund what the booking recorded (plus what it
    /// never counted), or everything when it recorded nothing paid.
    async fn cancelled(
        &self,
        tx: &mut Tx,
        notice: &BookingNotice,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let booking_id = notice.booking_id;
        let refund: CancellationRefund = serde_json::from_value(notice.data["refund"].clone())
            .map_err(|e| Error::invalid_request(format!("cancelled without a refund: {e}")))?;
        self.give_up_open(tx, booking_id, now).await?;
        if refund.rule == "nothing_paid" {
            // Nothing was paid when the booking was cancelled: money that came since goes back.
            return self.refund_all(tx, booking_id, "cancellation", now).await;
        }
        let counted: Option<Money> = serde_json::from_value(notice.data["paid"].clone()).ok();
        let uncounted = match counted {
            Some(paid) => (self.net_captured(tx, booking_id).await? - paid.amount).max(0),
            None => 0,
        };
        let amount = Money {
            amount: refund.amount.amount + uncounted,
            currency: refund.amount.currency,
        };
        if amount.amount <= 0 {
            return Ok(());
        }
        self.refund_across(
            tx,
            booking_id,
            amount,
            ("cancellation", "cancellation"),
            now,
        )
        .await
    }

    async fn apply(&self, tx: &mut Tx, event: &Event) -> Result<(), Error> {
        let notice: BookingNotice = serde_json::from_slice(&event.data)
            .map_err(|e| Error::invalid_request(format!("{}: {e}", event.event_type)))?;
        let now = self.service.clock().now();
        let booking_id = notice.booking_id;
        match event.event_type.as_str() {
            BOOKING_CREATED => {
                let link: Option<PaymentLink> =
                    serde_json::from_value(notice.data["payment"].clone()).ok();
                match link {
                    Some(link) => self.adopt(tx, booking_id, &link, now).await,
                    None => Ok(()),
                }
            }
            BOOKING_MODIFIED => self.modified(tx, &notice, now).await,
            BOOKING_EXPIRED => {
                self.give_up_open(tx, booking_id, now).await?;
                self.refund_all(tx, booking_id, "expired", now).await
            }
            BOOKING_CANCELLED => self.cancelled(tx, &notice, now).await,
            BOOKING_CHECKED_IN | BOOKING_NO_SHOW => self.give_up_open(tx, booking_id, now).await,
            _ => Ok(()),
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

    /// The events that name a payment or end what can be paid online.
    fn wants(&self, event: &Event) -> bool {
        WANTED.contains(&event.event_type.as_str())
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        if !self.wants(event) {
            return Ok(());
        }
        self.apply(tx, event).await.map_err(handler_error)
    }
}
