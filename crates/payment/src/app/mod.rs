//! The payment service's use cases over its store and the provider.
//!
//! - Creating a booking's intent records it here first (`creating`), then asks the provider
//!   with an idempotency key derived from our id, then records the provider's id and checkout
//!   link. A provider that is down fails the call fast (`unavailable`, the breaker); the row
//!   stays `creating` and the next call for the booking resumes with the same key, so the
//!   provider never holds two intents for one booking.
//! - Refunds are recorded `pending` (idempotent per payment and key) in the transaction of
//!   the decision, then sent; one the provider did not take is retried by the worker
//!   ([`worker`]) with backoff until it does. Cancellations at the provider likewise.
//! - Webhooks ([`webhooks`]) and the booking's events ([`consumers`]) decide through the pure
//!   status machine (`domain::intent`) and write the change, its events and any refund it
//!   owes in one transaction.

use std::sync::Arc;

use async_trait::async_trait;
use innkeeper_events::{Event, Payload, Tx};
use innkeeper_kernel::{Clock, Error, ErrorCode, Money, Principal, Result, Role};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::api::{
    Intent, NewIntent, PaymentApi, PaymentId, PaymentStatus, RefundRecord, RefundStatus,
    WebhookOutcome,
};
use crate::contracts::{PaymentFailed, PaymentRefunded, PaymentSucceeded};
use crate::domain::intent::{Decision, Outcome, on_outcome};
use crate::provider::ProviderClient;
use crate::settings::PaymentSettings;
use crate::store::{self, CancelState, OUTBOX, PaymentStore, StoredIntent, StoredRefund};

pub(crate) mod consumers;
pub(crate) mod webhooks;
pub(crate) mod worker;

#[cfg(test)]
mod tests;

/// The payment service.
pub struct PaymentService {
    store: PaymentStore,
    provider: ProviderClient,
    clock: Arc<dyn Clock>,
    settings: PaymentSettings,
    /// Woken when a refund or cancellation is queued, so the worker sends it at once.
    pub(crate) work_queued: Arc<Notify>,
}

impl std::fmt::Debug for PaymentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentService")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// The idempotency key of creating a payment's intent at the provider.
pub(crate) fn intent_key(id: PaymentId) -> String {
    format!("innkeeper-intent-{id}")
}

/// The idempotency key of sending a refund to the provider.
pub(crate) fn refund_key(id: Uuid) -> String {
    format!("innkeeper-refund-{id}")
}

/// The idempotency key of cancelling a payment's intent at the provider.
pub(crate) fn cancel_key(id: PaymentId) -> String {
    format!("innkeeper-cancel-{id}")
}

/// Who may create intents and refund: the platform's services (the booking saga) and admins.
fn require_service(caller: &Principal) -> Result<()> {
    if matches!(caller.role, Role::Service | Role::Admin) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::Forbidden,
            "only the platform's services create payments and refunds",
        ))
    }
}

/// An event about `booking_id` written at `now`.
pub(crate) fn event<P: Payload>(
    booking_id: Uuid,
    payload: &P,
    now: OffsetDateTime,
) -> Result<Event> {
    OUTBOX
        .event(booking_id, payload)
        .map(|e| e.at(now))
        .map_err(|e| Error::internal(format!("payment event: {e}")))
}

impl PaymentService {
    /// A service over a migrated store.
    pub(crate) fn new(
        store: PaymentStore,
        provider: ProviderClient,
        clock: Arc<dyn Clock>,
        settings: PaymentSettings,
    ) -> Self {
        Self {
            store,
            provider,
            clock,
            settings,
            work_queued: Arc::new(Notify::new()),
        }
    }

    /// The provider client (its breaker state, for health and tests).
    pub fn provider(&self) -> &ProviderClient {
        &self.provider
    }

    pub(crate) fn store(&self) -> &PaymentStore {
        &self.store
    }

    pub(crate) fn settings(&self) -> &PaymentSettings {
        &self.settings
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    async fn with_refunds(&self, stored: StoredIntent) -> Result<Intent> {
        let mut intent = stored.intent;
        intent.refunds = self
            .store
            .refunds(intent.id)
            .await?
            .into_iter()
            .map(|r| r.refund)
            .collect();
        Ok(intent)
    }

    fn visible(caller: &Principal, intent: &Intent) -> bool {
        matches!(caller.role, Role::Service | Role::Admin) || caller.user_id == intent.guest_id
    }

    /// Records the provider's intent on ours (if it is still `creating`).
    async fn record_created(
        &self,
        id: PaymentId,
        provider_id: &str,
        checkout_url: Option<String>,
    ) -> Result<StoredIntent> {
        let mut tx = self.store.begin().await?;
        let result = async {
            let current = store::intent_in(&mut tx, id)
                .await?
                .ok_or_else(|| Error::not_found("payment", id))?;
            if current.intent.provider_intent_id.is_some() {
                return Ok(current);
            }
            let mut next = current.clone();
            next.intent.provider_intent_id = Some(provider_id.to_owned());
            next.intent.checkout_url = checkout_url;
            if next.intent.status == PaymentStatus::Creating {
                next.intent.status = PaymentStatus::RequiresPayment;
            }
            next.intent.version += 1;
            next.intent.updated_at = self.clock.now();
            store::update_intent(&mut tx, &next, current.intent.version).await?;
            Ok(next)
        }
        .await;
        store::finish(tx, result).await
    }

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
        let decision = on_outcome(current.intent.status, outcome);
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

/// Whether a provider failure may pass (tried again later).
pub(crate) fn is_transient(err: &Error) -> bool {
    matches!(
        err.code,
        ErrorCode::Unavailable | ErrorCode::Timeout | ErrorCode::Conflict
    )
}

#[async_trait]
impl PaymentApi for PaymentService {
    #[tracing::instrument(skip_all, fields(booking_id = %new.booking_id))]
    async fn create_intent(&self, caller: &Principal, new: NewIntent) -> Result<Intent> {
        require_service(caller)?;
        validate(&new)?;
        let now = self.clock.now();
        let stored = match self.store.intent_for_booking(new.booking_id).await? {
            Some(existing) => existing,
            None => {
                let fresh = StoredIntent {
                    intent: Intent {
                        id: PaymentId::new(),
                        booking_id: new.booking_id,
                        guest_id: new.guest_id,
                        reference: new.reference.clone(),
                        status: PaymentStatus::Creating,
                        amount: new.amount,
                        amount_refunded: 0,
                        checkout_url: None,
                        return_url: new.return_url.clone(),
                        provider_intent_id: None,
                        failure_code: None,
                        failure_message: None,
                        refunds: Vec::new(),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    },
                    cancel: CancelState::None,
                    cancel_attempts: 0,
                    cancel_next_at: now,
                };
                let mut tx = self.store.begin().await?;
                let inserted = store::insert_intent(&mut tx, &fresh).await;
                let inserted = store::finish(tx, inserted).await?;
                if inserted {
                    fresh
                } else {
                    self.store
                        .intent_for_booking(new.booking_id)
                        .await?
                        .ok_or_else(|| Error::internal("a booking's payment vanished"))?
                }
            }
        };
        if stored.intent.amount != new.amount {
            return Err(Error::conflict(format!(
                "booking {} has a payment of another amount",
                new.booking_id
            )));
        }
        if stored.intent.provider_intent_id.is_some()
            || stored.intent.status != PaymentStatus::Creating
        {
            return self.with_refunds(stored).await;
        }
        let id = stored.intent.id;
        let metadata = [
            ("booking_id", new.booking_id.to_string()),
            ("payment_id", id.to_string()),
            ("reference", new.reference.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let created = self
            .provider
            .create_intent(
                &intent_key(id),
                new.amount,
                &new.return_url,
                &format!("Booking {}", new.reference),
                &metadata,
            )
            .await
            .inspect_err(|err| {
                tracing::warn!(error = %err, payment_id = %id, "the provider did not create the intent");
            })?;
        let recorded = self
            .record_created(id, &created.id, created.checkout_url)
            .await?;
        metrics::counter!("innkeeper_payment_intents_created_total").increment(1);
        self.with_refunds(recorded).await
    }

    async fn get(&self, caller: &Principal, id: PaymentId) -> Result<Intent> {
        match self.store.intent(id).await? {
            Some(stored) if Self::visible(caller, &stored.intent) => {
                self.with_refunds(stored).await
            }
            _ => Err(Error::not_found("payment", id)),
        }
    }

    async fn get_for_booking(&self, caller: &Principal, booking_id: Uuid) -> Result<Intent> {
        match self.store.intent_for_booking(booking_id).await? {
            Some(stored) if Self::visible(caller, &stored.intent) => {
                self.with_refunds(stored).await
            }
            _ => Err(Error::not_found("payment of booking", booking_id)),
        }
    }

    #[tracing::instrument(skip_all, fields(booking_id = %booking_id))]
    async fn refund(
        &self,
        caller: &Principal,
        booking_id: Uuid,
        amount: Money,
        reason: &str,
        key: &str,
    ) -> Result<RefundRecord> {
        require_service(caller)?;
        if key.is_empty() || key.len() > 255 {
            return Err(Error::invalid_field("key", "must have 1 to 255 characters"));
        }
        if reason.is_empty() || reason.len() > 200 {
            return Err(Error::invalid_field(
                "reason",
                "must have 1 to 200 characters",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let owed = async {
            let intent = store::intent_for_booking_in(&mut tx, booking_id)
                .await?
                .ok_or_else(|| Error::not_found("payment of booking", booking_id))?;
            self.owe_refund(&mut tx, &intent, Some(amount), reason, key, now)
                .await
        }
        .await;
        let refund = store::finish(tx, owed)
            .await?
            .ok_or_else(|| Error::internal("an explicit refund amount owes nothing"))?;
        if refund.refund.status != RefundStatus::Pending {
            return Ok(refund.refund);
        }
        // Sent now; if the provider does not take it, it stays pending for the worker.
        match self.send_refund(refund.refund.id).await {
            Ok(sent) => Ok(sent.refund),
            Err(err) => {
                tracing::warn!(error = %err, "refund recorded; sending it failed, the worker retries");
                Ok(refund.refund)
            }
        }
    }

    async fn handle_webhook(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookOutcome> {
        webhooks::handle(self, headers, body).await
    }
}

fn validate(new: &NewIntent) -> Result<()> {
    let mut err: Option<Error> = None;
    let mut add = |field: &str, message: &str| {
        err = Some(match err.take() {
            Some(e) => e.with_field(field, message),
            None => Error::invalid_field(field, message),
        });
    };
    if new.amount.amount <= 0 {
        add("amount", "must be positive");
    }
    if new.reference.is_empty() || new.reference.len() > 64 {
        add("reference", "must have 1 to 64 characters");
    }
    let url_ok = new.return_url.len() <= 2048
        && reqwest::Url::parse(&new.return_url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !url_ok {
        add("return_url", "must be an absolute http(s) URL");
    }
    err.map_or(Ok(()), Err)
}
