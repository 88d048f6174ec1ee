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
use innkeeper_events::{Event, Payload};
use innkeeper_kernel::{Clock, Error, ErrorCode, Money, Principal, Result, Role};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::api::{
    Intent, IntentPurpose, NewIntent, PaymentApi, PaymentId, PaymentStatus, RefundRecord,
    RefundStatus, WebhookOutcome,
};
use crate::provider::ProviderClient;
use crate::settings::PaymentSettings;
use crate::store::{self, CancelState, OUTBOX, PaymentStore, StoredIntent};

pub(crate) mod consumers;
mod settle;
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
        let change = new.modification.unwrap_or(0);
        let stored = match self.store.intent_for_change(new.booking_id, change).await? {
            Some(existing) => existing,
            None => {
                let fresh = StoredIntent {
                    intent: Intent {
                        id: PaymentId::new(),
                        booking_id: new.booking_id,
                        purpose: new.purpose,
                        modification: new.modification,
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
                    adopted_at: None,
                };
                let mut tx = self.store.begin().await?;
                let inserted = store::insert_intent(&mut tx, &fresh).await;
                let inserted = store::finish(tx, inserted).await?;
                if inserted {
                    fresh
                } else {
                    self.store
                        .intent_for_change(new.booking_id, change)
                        .await?
                        .ok_or_else(|| Error::internal("a booking's payment vanished"))?
                }
            }
        };
        if stored.intent.amount != new.amount || stored.intent.purpose != new.purpose {
            return Err(Error::conflict(format!(
                "booking {} has a payment of another amount for this change",
                new.booking_id
            )));
        }
        if stored.intent.provider_intent_id.is_some()
            || stored.intent.status != PaymentStatus::Creating
        {
            return self.with_refunds(stored).await;
        }
        // What the first attempt stored goes to the provider, not this call's: a retry after
        // a crash between the provider's answer and recording it repeats the provider's
        // idempotency key, which the provider refuses with other parameters (and a booking's
        // retry draws another reference).
        let first = &stored.intent;
        let id = first.id;
        let metadata = [
            ("booking_id", new.booking_id.to_string()),
            ("payment_id", id.to_string()),
            ("reference", first.reference.clone()),
            ("purpose", first.purpose.as_str().to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let created = self
            .provider
            .create_intent(
                &intent_key(id),
                first.amount,
                &first.return_url,
                &match first.purpose {
                    IntentPurpose::Booking => format!("Booking {}", first.reference),
                    IntentPurpose::Balance => format!("Booking {}: balance", first.reference),
                },
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
    if new.modification.is_some_and(|v| v < 2) {
        add(
            "modification",
            "must be the booking version of a change (2 or more)",
        );
    }
    if new.purpose == IntentPurpose::Balance && new.modification.is_none() {
        add("modification", "a balance is the balance of a change");
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
