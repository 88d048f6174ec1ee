//! Refunds and provider outcomes: what a payment owes and how it is settled.
//!
//! A refund is recorded `pending` in the transaction of the decision that owes it
//! ([`PaymentService::owe_refund`]), then sent ([`PaymentService::send_refund`], at once or by
//! the worker) with an idempotency key derived from its id, and recorded `succeeded` with its
//! `payment.refunded` event in one transaction. Provider outcomes go through the status
//! machine ([`PaymentService::apply_outcome`]).

use innkeeper_events::Tx;
use innkeeper_kernel::{Error, Money, Result};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PaymentService, event, is_transient, refund_key};
use crate::api::{IntentPurpose, PaymentStatus, RefundRecord, RefundStatus};
use crate::contracts::{PaymentFailed, PaymentRefunded, PaymentSucceeded};
use crate::domain::intent::{Decision, Outcome, on_balance_outcome, on_outcome};
use crate::store::{self, CancelState, StoredIntent, StoredRefund};

impl PaymentService {
    /// Sends a recorded refund to the provider and records the answer: `succeeded` (with its
    /// event), `failed` for good, or still `pending` with its next attempt.
    pub(crate) async fn send_refund(&self, refund_id: Uuid) -> Result<StoredRefund> {
        let (refund, provider_intent) = {
            let mut tx = self.store.begin().await?;
            let read = async {
                let refund = store::refund_in(&mut tx, refund_id)
                    .await?
                    .ok_or_else(|| Error::not_found("refund", refund_id))?;
                let intent = store::intent_in(&mut tx, refund.refund.payment_id)
                    .await?
                    .ok_or_else(|| Error::not_found("payment", refund.refund.payment_id))?;
                Ok((refund, intent.intent.provider_intent_id))
            }
            .await;
            store::finish(tx, read).await?
        };
        if refund.refund.status != RefundStatus::Pending {
            return Ok(refund);
        }
        let Some(provider_intent) = provider_intent else {
            return Err(Error::internal(format!(
                "refund {refund_id} of a payment the provider never had"
            )));
        };
        let sent = self
            .provider
            .refund(
                &refund_key(refund_id),
                &provider_intent,
                refund.refund.amount.amount,
            )
            .await;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            let Some(mut current) = store::refund_in(&mut tx, refund_id).await? else {
                return Err(Error::not_found("refund", refund_id));
            };
            if current.refund.status != RefundStatus::Pending {
                return Ok(current);
            }
            match sent {
                Ok(done) => {
                    current.refund.status = RefundStatus::Succeeded;
                    current.refund.provider_refund_id = Some(done.id);
                    current.refund.last_error = None;
                    current.attempts += 1;
                    store::update_refund(&mut tx, &current, now).await?;
                    self.refunded(&mut tx, &current, now).await?;
                    metrics::counter!("innkeeper_payment_refunds_total", "outcome" => "succeeded")
                        .increment(1);
                }
                Err(err) if is_transient(&err) => {
                    current.attempts += 1;
                    current.refund.last_error = Some(err.message.clone());
                    current.next_attempt_at = now + self.task_backoff(current.attempts);
                    store::update_refund(&mut tx, &current, now).await?;
                    tracing::warn!(refund_id = %refund_id, error = %err, attempts = current.attempts,
                        "refund not taken by the provider yet; will retry");
                }
                Err(err) => {
                    current.attempts += 1;
                    current.refund.status = RefundStatus::Failed;
                    current.refund.last_error = Some(err.message.clone());
                    store::update_refund(&mut tx, &current, now).await?;
                    metrics::counter!("innkeeper_payment_refunds_total", "outcome" => "failed")
                        .increment(1);
                    tracing::error!(refund_id = %refund_id, error = %err, "the provider refused a refund");
                }
            }
            Ok(current)
        }
        .await;
        store::finish(tx, result).await
    }

    /// Records a refund that happened on the payment (adds it up and publishes it).
    pub(crate) async fn refunded(
        &self,
        tx: &mut Tx,
        refund: &StoredRefund,
        now: OffsetDateTime,
    ) -> Result<()> {
        let payment_id = refund.refund.payment_id;
        let mut intent = store::intent_in(tx, payment_id)
            .await?
            .ok_or_else(|| Error::not_found("payment", payment_id))?;
        let expected = intent.intent.version;
        intent.intent.amount_refunded = (intent.intent.amount_refunded
            + refund.refund.amount.amount)
            .min(intent.intent.amount.amount);
        intent.intent.version += 1;
        intent.intent.updated_at = now;
        store::update_intent(tx, &intent, expected).await?;
        let payload = PaymentRefunded {
            payment_id: payment_id.0,
            booking_id: intent.intent.booking_id,
            refund_id: refund.refund.id,
            amount: refund.refund.amount,
            total_refunded: Money {
                amount: intent.intent.amount_refunded,
                currency: intent.intent.amount.currency,
            },
            reason: refund.refund.reason.clone(),
            provider_refund_id: refund.refund.provider_refund_id.clone(),
        };
        store::publish(tx, &event(intent.intent.booking_id, &payload, now)?).await
    }

    /// The wait before the next attempt of a refund or cancellation.
    pub(crate) fn task_backoff(&self, attempts: u32) -> time::Duration {
        let base = self.settings.task_backoff_base;
        let delay = base
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
            .min(self.settings.task_backoff_max);
        time::Duration::try_from(delay).unwrap_or(time::Duration::minutes(5))
    }

    /// Applies a provider outcome to a payment in `tx`: the status machine decides; the
    /// change, its event and any automatic refund commit together. Returns whether anything
    /// changed.
    pub(crate) async fn apply_outcome(
        &self,
        tx: &mut Tx,
        current: StoredIntent,
        outcome: Outcome,
        failure: Option<(String, String)>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let decision = match current.intent.purpose {
            IntentPurpose::Booking => on_outcome(current.intent.status, outcome),
            IntentPurpose::Balance => on_balance_outcome(current.intent.status, outcome),
        };
        let mut next = current.clone();
        let intent = &mut next.intent;
        let booking_id = intent.booking_id;
        match decision {
            Decision::Nothing => return Ok(false),
            Decision::Move(status) => {
                intent.status = status;
                if status == PaymentStatus::Canceled {
                    next.cancel = CancelState::Done;
                }
            }
            Decision::Succeed { late } => {
                intent.status = PaymentStatus::Succeeded;
                let payload = PaymentSucceeded {
                    payment_id: intent.id.0,
                    booking_id,
                    amount: intent.amount,
                    provider_intent_id: intent.provider_intent_id.clone(),
                    late,
                };
                store::publish(tx, &event(booking_id, &payload, now)?).await?;
                metrics::counter!("innkeeper_payment_outcomes_total", "outcome" => if late { "succeeded_late" } else { "succeeded" })
                    .increment(1);
                if late {
                    // The booking ended before the money came: it all goes back.
                    next.cancel = CancelState::Done;
                    tracing::warn!(booking_id = %booking_id, payment_id = %intent.id,
                        "payment succeeded after its booking ended; refunding it");
                }
            }
            Decision::Fail => {
                intent.status = PaymentStatus::Failed;
                let (code, message) =
                    failure.unwrap_or_else(|| ("payment_failed".to_owned(), String::new()));
                intent.failure_code = Some(code.clone());
                intent.failure_message = Some(message.clone());
                next.cancel = CancelState::Pending;
                next.cancel_next_at = now;
                let payload = PaymentFailed {
                    payment_id: intent.id.0,
                    booking_id,
                    amount: intent.amount,
                    code,
                    message,
                };
                store::publish(tx, &event(booking_id, &payload, now)?).await?;
                metrics::counter!("innkeeper_payment_outcomes_total", "outcome" => "failed")
                    .increment(1);
            }
            Decision::Declined => {
                intent.status = PaymentStatus::RequiresPayment;
                let (code, message) =
                    failure.unwrap_or_else(|| ("payment_failed".to_owned(), String::new()));
                intent.failure_code = Some(code);
                intent.failure_message = Some(message);
                metrics::counter!("innkeeper_payment_outcomes_total", "outcome" => "balance_declined")
                    .increment(1);
            }
        }
        intent.version += 1;
        intent.updated_at = now;
        store::update_intent(tx, &next, current.intent.version).await?;
        if decision == (Decision::Succeed { late: true }) {
            self.owe_refund(tx, &next, None, "late_payment", "late_payment", now)
                .await?;
        }
        Ok(true)
    }

    /// Records a refund owed on a paid payment, in `tx`: `amount` (everything not yet
    /// refunded or owed when `None`), under `key`. A key used before answers its refund
    /// (`conflict` if the amount differs); nothing left to refund is `None`.
    pub(crate) async fn owe_refund(
        &self,
        tx: &mut Tx,
        intent: &StoredIntent,
        amount: Option<Money>,
        reason: &str,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<StoredRefund>> {
        let payment = &intent.intent;
        if let Some(existing) = store::refund_by_key_in(tx, payment.id, key).await? {
            if amount.is_some_and(|a| a != existing.refund.amount) {
                return Err(Error::conflict(format!(
                    "refund key {key:?} was used for another amount"
                )));
            }
            return Ok(Some(existing));
        }
        if payment.status != PaymentStatus::Succeeded {
            return Err(Error::invalid_state(format!(
                "payment {} is {}: nothing was paid",
                payment.id, payment.status
            )));
        }
        let owed: i64 = store::refunds_in(tx, payment.id)
            .await?
            .iter()
            .filter(|r| r.refund.status != RefundStatus::Failed)
            .map(|r| r.refund.amount.amount)
            .sum();
        let left = payment.amount.amount - owed;
        let amount = match amount {
            Some(a) if a.currency != payment.amount.currency => {
                return Err(Error::invalid_field(
                    "amount.currency",
                    format!("the payment is in {}", payment.amount.currency),
                ));
            }
            Some(a) if a.amount <= 0 => {
                return Err(Error::invalid_field("amount", "must be positive"));
            }
            Some(a) if a.amount > left => {
                return Err(Error::invalid_field(
                    "amount",
                    format!("at most {left} is left to refund"),
                ));
            }
            Some(a) => a,
            None if left <= 0 => return Ok(None),
            None => Money {
                amount: left,
                currency: payment.amount.currency,
            },
        };
        let refund = StoredRefund {
            refund: RefundRecord {
                id: Uuid::now_v7(),
                payment_id: payment.id,
                booking_id: payment.booking_id,
                key: key.to_owned(),
                amount,
                reason: reason.to_owned(),
                status: RefundStatus::Pending,
                provider_refund_id: None,
                last_error: None,
                created_at: now,
            },
            attempts: 0,
            next_attempt_at: now,
        };
        if !store::insert_refund(tx, &refund).await? {
            return Err(Error::conflict("a refund with this key was just recorded"));
        }
        self.work_queued.notify_one();
        Ok(Some(refund))
    }
}
