//! The provider's use cases: create, read, confirm (pay), cancel and refund intents, settle
//! delayed payments; each answer stored under its idempotency key with its effect.
//!
//! A change is decided on the intent as read and committed only if the intent is still that
//! version; otherwise it is decided again on fresh state (a few times, then 409). So two
//! concurrent payments of one intent capture once, and two concurrent refunds never exceed
//! the capture.

use std::collections::BTreeMap;
use std::sync::Arc;

use innkeeper_kernel::{Clock, ErrorCode};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::domain::{
    Attempt, IntentStatus, LedgerEntry, MAX_AMOUNT, MAX_METADATA_KEYS, PaymentIntent,
    RefundRefused, TestCard,
};
use crate::error::ProviderError;
use crate::settings::ProviderSettings;
use crate::store::{Change, Committed, IntentWrite, NewDelivery, NewKey, ProviderStore, StoredKey};
use crate::wire;

/// A new random id with a Stripe-like type prefix (`pi`, `re`, `evt`), sortable by creation.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// How many times a change is decided again after losing a race, before answering 409.
const MAX_RACES: usize = 8;

/// Webhook event types, Stripe's names.
pub mod events {
    /// The intent is paid.
    pub const PAYMENT_SUCCEEDED: &str = "payment_intent.succeeded";
    /// An attempt to pay was declined.
    pub const PAYMENT_FAILED: &str = "payment_intent.payment_failed";
    /// An attempt was accepted and settles later.
    pub const PAYMENT_PROCESSING: &str = "payment_intent.processing";
    /// The merchant canceled the intent.
    pub const PAYMENT_CANCELED: &str = "payment_intent.canceled";
    /// A refund was made (it succeeds at once).
    pub const REFUND_CREATED: &str = "refund.created";
}

/// An answer to send: a status and JSON body, perhaps replayed from an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// Replayed from the key's first use.
    pub replayed: bool,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            body: body.to_string(),
            replayed: false,
        }
    }
}

/// An idempotency key with the fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed {
    pub key: String,
    pub fingerprint: String,
}

impl Keyed {
    /// `key` for `operation` (such as `POST /v1/refunds`) with `params`; keys are at most 255
    /// characters, as Stripe's.
    pub fn new(key: &str, operation: &str, params: &Value) -> Result<Self, ProviderError> {
        if key.is_empty() || key.len() > 255 {
            return Err(ProviderError::invalid_request(
                "idempotency_key_invalid",
                "Idempotency-Key must have 1 to 255 characters.",
            ));
        }
        // serde_json's maps are sorted, so the same parameters in another order or spacing
        // have the same fingerprint.
        let mut hash = Sha256::new();
        hash.update(operation.as_bytes());
        hash.update([0]);
        hash.update(params.to_string().as_bytes());
        let fingerprint = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            key: key.to_owned(),
            fingerprint,
        })
    }

    fn store(&self, answer: &Answer, now: OffsetDateTime) -> NewKey {
        NewKey {
            key: self.key.clone(),
            fingerprint: self.fingerprint.clone(),
            status: answer.status,
            body: answer.body.clone(),
            created_at: now,
        }
    }

    fn replay(&self, stored: StoredKey) -> Result<Answer, ProviderError> {
        if stored.fingerprint != self.fingerprint {
            return Err(ProviderError::idempotency_mismatch());
        }
        Ok(Answer {
            status: stored.status,
            body: stored.body,
            replayed: true,
        })
    }
}

/// `POST /v1/payment_intents` parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIntent {
    pub amount: i64,
    pub currency: String,
    pub return_url: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// `POST /v1/payment_intents/{id}/confirm` parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmIntent {
    /// A test token: `pm_card_visa`, `pm_card_chargeDeclined`, ...
    pub payment_method: String,
}

/// `POST /v1/payment_intents/{id}/cancel` parameters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelIntent {
    #[serde(default)]
    pub cancellation_reason: Option<String>,
}

/// `POST /v1/refunds` parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    pub payment_intent: String,
    /// Minor units; everything left when absent.
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// What paying did.
#[derive(Debug, Clone)]
pub enum Paid {
    /// The attempt ran: the intent after it and the answer given.
    Ran {
        intent: Box<PaymentIntent>,
        attempt: Attempt,
        answer: Answer,
    },
    /// The key had been used: its first answer.
    Replayed(Answer),
}

/// The provider.
pub struct ProviderService {
    store: Arc<dyn ProviderStore>,
    clock: Arc<dyn Clock>,
    settings: ProviderSettings,
    /// Woken when a delivery is queued, so the worker sends it at once.
    pub(crate) deliveries_queued: Arc<Notify>,
}

impl std::fmt::Debug for ProviderService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ProviderService {
    /// A provider over a migrated store.
    pub fn new(
        store: Arc<dyn ProviderStore>,
        clock: Arc<dyn Clock>,
        settings: ProviderSettings,
    ) -> Self {
        Self {
            store,
            clock,
            settings,
            deliveries_queued: Arc::new(Notify::new()),
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// The store (for the webhook worker and tests).
    pub fn store(&self) -> &Arc<dyn ProviderStore> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn intent_json(&self, intent: &PaymentIntent) -> Value {
        wire::intent(intent, &self.settings.public_url)
    }

    fn delivery(&self, event_type: &str, object: Value, now: OffsetDateTime) -> NewDelivery {
        let id = new_id("evt");
        let payload = wire::event(&id, event_type, object, now).to_string();
        NewDelivery {
            event_id: id,
            event_type: event_type.to_owned(),
            payload,
            created_at: now,
        }
    }

    /// Commits `change` answering `answer`: `Some` answer (its own, or the key's first), or
    /// `None` when a race was lost and the change must be decided again.
    async fn commit(
        &self,
        mut change: Change,
        key: Option<&Keyed>,
        answer: Answer,
        now: OffsetDateTime,
    ) -> Result<Option<Answer>, ProviderError> {
        change.key = key.map(|k| k.store(&answer, now));
        match self.store.commit(&change).await {
            Ok(Committed::Applied) => {
                if !change.deliveries.is_empty() {
                    self.deliveries_queued.notify_one();
                }
                Ok(Some(answer))
            }
            Ok(Committed::Replay(stored)) => key.map(|k| k.replay(stored)).transpose(),
            Err(err) if err.code == ErrorCode::VersionMismatch => Ok(None),
            Err(err) if err.code == ErrorCode::Conflict => {
                // A concurrent request with the same key committed first: answer as it did.
                if let Some(key) = key
                    && let Some(stored) = self.store.find_key(&key.key).await?
                {
                    return key.replay(stored).map(Some);
                }
                Ok(None)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// An earlier answer under `key`, if there is one.
    async fn replayed(&self, key: Option<&Keyed>) -> Result<Option<Answer>, ProviderError> {
        let Some(key) = key else { return Ok(None) };
        match self.store.find_key(&key.key).await? {
            Some(stored) => key.replay(stored).map(Some),
            None => Ok(None),
        }
    }

    async fn load(&self, id: &str) -> Result<PaymentIntent, ProviderError> {
        self.store
            .get_intent(id)
            .await?
            .ok_or_else(|| ProviderError::missing("intent", "payment_intent", id))
    }

    /// Creates an intent (`requires_payment_method`); answers 200 with it.
    #[tracing::instrument(skip_all)]
    pub async fn create_intent(
        &self,
        params: CreateIntent,
        key: Option<&Keyed>,
    ) -> Result<Answer, ProviderError> {
        let params = validate_create(params)?;
        let now = self.clock.now();
        let intent = PaymentIntent {
            id: new_id("pi"),
            amount: params.amount,
            currency: params.currency,
            status: IntentStatus::RequiresPaymentMethod,
            amount_received: 0,
            amount_refunded: 0,
            return_url: params.return_url,
            description: params.description,
            metadata: params.metadata,
            last_payment_error: None,
            payment_method: None,
            settle_at: None,
            canceled_at: None,
            cancellation_reason: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let answer = Answer::json(200, &self.intent_json(&intent));
        for _ in 0..MAX_RACES {
            let change = Change {
                intent: Some(IntentWrite::Insert(intent.clone())),
                ..Change::default()
            };
            if let Some(answer) = self.commit(change, key, answer.clone(), now).await? {
                return Ok(answer);
            }
        }
        Err(innkeeper_kernel::Error::conflict("lost every race").into())
    }

    /// An intent as it is now.
    pub async fn get_intent(&self, id: &str) -> Result<PaymentIntent, ProviderError> {
        self.load(id).await
    }

    /// An intent's JSON.
    pub async fn intent_answer(&self, id: &str) -> Result<Value, ProviderError> {
        Ok(self.intent_json(&self.load(id).await?))
    }

    /// Pays an intent with a test card. A decline is an answer too (402 `card_error`), and the
    /// intent records it.
    #[tracing::instrument(skip_all, fields(payment_intent = %id, ?card))]
    pub async fn pay(
        &self,
        id: &str,
        card: TestCard,
        key: Option<&Keyed>,
    ) -> Result<Paid, ProviderError> {
        if let Some(answer) = self.replayed(key).await? {
            return Ok(Paid::Replayed(answer));
        }
        for _ in 0..MAX_RACES {
            let current = self.load(id).await?;
            let now = self.clock.now();
            let (next, attempt) = current
                .attempt(card, now, self.settings.processing_delay)
                .map_err(|refused| {
                    ProviderError::unexpected_state(refused.to_string(), self.intent_json(&current))
                })?;
            let object = self.intent_json(&next);
            let (answer, event, ledger) = match &attempt {
                Attempt::Succeeded => (
                    Answer::json(200, &object),
                    events::PAYMENT_SUCCEEDED,
                    vec![LedgerEntry::capture(&next, now)],
                ),
                Attempt::Processing => (
                    Answer::json(200, &object),
                    events::PAYMENT_PROCESSING,
                    vec![],
                ),
                Attempt::Failed(error) => {
                    let declined = crate::error::ErrorBody {
                        status: 402,
                        kind: "card_error",
                        code: Some(error.code.clone()),
                        message: error.message.clone(),
                        param: None,
                        decline_code: error.decline_code.clone(),
                        payment_intent: Some(object.clone()),
                    };
                    (
                        Answer::json(402, &declined.body()),
                        events::PAYMENT_FAILED,
                        vec![],
                    )
                }
            };
            let change = Change {
                intent: Some(IntentWrite::Update {
                    intent: next.clone(),
                    expected_version: current.version,
                }),
                ledger,
                deliveries: vec![self.delivery(event, object, now)],
                ..Change::default()
            };
            match self.commit(change, key, answer, now).await? {
                Some(answer) if answer.replayed => return Ok(Paid::Replayed(answer)),
                Some(answer) => {
                    let outcome = match &attempt {
                        Attempt::Succeeded => "succeeded",
                        Attempt::Processing => "processing",
                        Attempt::Failed(_) => "failed",
                    };
                    metrics::counter!("innkeeper_payment_provider_payments_total", "outcome" => outcome)
                        .increment(1);
                    tracing::info!(payment_intent = %id, outcome, "payment attempted");
                    return Ok(Paid::Ran {
                        intent: Box::new(next),
                        attempt,
                        answer,
                    });
                }
                None => continue,
            }
        }
        Err(innkeeper_kernel::Error::conflict("lost every race").into())
    }

    /// `POST /v1/payment_intents/{id}/confirm`.
    pub async fn confirm(
        &self,
        id: &str,
        params: ConfirmIntent,
        key: Option<&Keyed>,
    ) -> Result<Answer, ProviderError> {
        let card = TestCard::from_token(&params.payment_method).ok_or_else(|| {
            ProviderError::invalid_param(
                "payment_method",
                "resource_missing",
                format!(
                    "No such PaymentMethod: '{}'; use a test token such as pm_card_visa.",
                    params.payment_method
                ),
            )
        })?;
        match self.pay(id, card, key).await? {
            Paid::Ran { answer, .. } | Paid::Replayed(answer) => Ok(answer),
        }
    }

    /// Cancels an unpaid intent.
    #[tracing::instrument(skip_all, fields(payment_intent = %id))]
    pub async fn cancel(
        &self,
        id: &str,
        params: CancelIntent,
        key: Option<&Keyed>,
    ) -> Result<Answer, ProviderError> {
        const REASONS: [&str; 4] = [
            "duplicate",
            "fraudulent",
            "requested_by_customer",
            "abandoned",
        ];
        if let Some(reason) = &params.cancellation_reason
            && !REASONS.contains(&reason.as_str())
        {
            return Err(ProviderError::invalid_param(
                "cancellation_reason",
                "parameter_invalid_string",
                "cancellation_reason must be duplicate, fraudulent, requested_by_customer or abandoned.",
            ));
        }
        if let Some(answer) = self.replayed(key).await? {
            return Ok(answer);
        }
        for _ in 0..MAX_RACES {
            let current = self.load(id).await?;
            let now = self.clock.now();
            let next = current
                .cancel(params.cancellation_reason.clone(), now)
                .map_err(|refused| {
                    ProviderError::unexpected_state(refused.to_string(), self.intent_json(&current))
                })?;
            let object = self.intent_json(&next);
            let change = Change {
                intent: Some(IntentWrite::Update {
                    intent: next,
                    expected_version: current.version,
                }),
                deliveries: vec![self.delivery(events::PAYMENT_CANCELED, object.clone(), now)],
                ..Change::default()
            };
            if let Some(answer) = self
                .commit(change, key, Answer::json(200, &object), now)
                .await?
            {
                return Ok(answer);
            }
        }
        Err(innkeeper_kernel::Error::conflict("lost every race").into())
    }

    /// Refunds (part of) a captured intent; never more than what is left.
    #[tracing::instrument(skip_all, fields(payment_intent = %params.payment_intent))]
    pub async fn refund(
        &self,
        params: CreateRefund,
        key: Option<&Keyed>,
    ) -> Result<Answer, ProviderError> {
        const REASONS: [&str; 3] = ["duplicate", "fraudulent", "requested_by_customer"];
        if let Some(reason) = &params.reason
            && !REASONS.contains(&reason.as_str())
        {
            return Err(ProviderError::invalid_param(
                "reason",
                "parameter_invalid_string",
                "reason must be duplicate, fraudulent or requested_by_customer.",
            ));
        }
        if let Some(answer) = self.replayed(key).await? {
            return Ok(answer);
        }
        for _ in 0..MAX_RACES {
            let current = self
                .store
                .get_intent(&params.payment_intent)
                .await?
                .ok_or_else(|| {
                    ProviderError::missing(
                        "payment_intent",
                        "payment_intent",
                        &params.payment_intent,
                    )
                })?;
            let now = self.clock.now();
            let (next, refund) = current
                .refund(new_id("re"), params.amount, params.reason.clone(), now)
                .map_err(|refused| refund_refused(refused, &current))?;
            let object = wire::refund(&refund);
            let change = Change {
                intent: Some(IntentWrite::Update {
                    intent: next,
                    expected_version: current.version,
                }),
                ledger: vec![LedgerEntry::refund(&refund)],
                deliveries: vec![self.delivery(events::REFUND_CREATED, object.clone(), now)],
                refund: Some(refund.clone()),
                ..Change::default()
            };
            if let Some(answer) = self
                .commit(change, key, Answer::json(200, &object), now)
                .await?
            {
                if !answer.replayed {
                    metrics::counter!("innkeeper_payment_provider_refunds_total").increment(1);
                    tracing::info!(refund = %refund.id, amount = refund.amount, "refunded");
                }
                return Ok(answer);
            }
        }
        Err(innkeeper_kernel::Error::conflict("lost every race").into())
    }

    /// Settles `processing` intents whose delay is over (captured, `payment_intent.succeeded`
    /// queued); returns how many. Safe to run from several workers: each intent settles once.
    pub async fn settle_due(&self, limit: u32) -> Result<u32, ProviderError> {
        let now = self.clock.now();
        let mut settled = 0;
        for intent in self.store.due_settlements(now, limit).await? {
            let Some(next) = intent.settle(now) else {
                continue;
            };
            let object = self.intent_json(&next);
            let change = Change {
                intent: Some(IntentWrite::Update {
                    intent: next.clone(),
                    expected_version: intent.version,
                }),
                ledger: vec![LedgerEntry::capture(&next, now)],
                deliveries: vec![self.delivery(events::PAYMENT_SUCCEEDED, object.clone(), now)],
                ..Change::default()
            };
            if self
                .commit(change, None, Answer::json(200, &object), now)
                .await?
                .is_some()
            {
                settled += 1;
            }
        }
        Ok(settled)
    }

    /// Deletes idempotency keys older than the retention; returns how many.
    pub async fn prune_keys(&self) -> Result<u64, ProviderError> {
        let retention = time::Duration::try_from(self.settings.idempotency_retention)
            .unwrap_or(time::Duration::days(1));
        Ok(self.store.prune_keys(self.clock.now() - retention).await?)
    }
}

fn refund_refused(refused: RefundRefused, intent: &PaymentIntent) -> ProviderError {
    match refused {
        RefundRefused::NotCaptured(status) => ProviderError::invalid_param(
            "payment_intent",
            "charge_not_refundable",
            format!(
                "PaymentIntent {} has a status of {}; only succeeded payments can be refunded.",
                intent.id,
                status.as_str()
            ),
        ),
        RefundRefused::AlreadyRefunded => ProviderError::invalid_param(
            "payment_intent",
            "charge_already_refunded",
            format!("PaymentIntent {} has already been refunded.", intent.id),
        ),
        RefundRefused::NotPositive => ProviderError::invalid_param(
            "amount",
            "parameter_invalid_integer",
            "amount must be a positive integer.",
        ),
        RefundRefused::TooLarge { left } => ProviderError::invalid_param(
            "amount",
            "amount_too_large",
            format!("Refund amount is greater than the unrefunded amount on the payment ({left})."),
        ),
    }
}

fn validate_create(mut params: CreateIntent) -> Result<CreateIntent, ProviderError> {
    if !(1..=MAX_AMOUNT).contains(&params.amount) {
        return Err(ProviderError::invalid_param(
            "amount",
            "parameter_invalid_integer",
            format!("amount must be between 1 and {MAX_AMOUNT} (minor units)."),
        ));
    }
    if params.currency.len() != 3 || !params.currency.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(ProviderError::invalid_param(
            "currency",
            "parameter_invalid_string",
            "currency must be a three-letter ISO code, such as eur.",
        ));
    }
    params.currency = params.currency.to_ascii_lowercase();
    let url_ok = params.return_url.len() <= 2048
        && reqwest::Url::parse(&params.return_url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !url_ok {
        return Err(ProviderError::invalid_param(
            "return_url",
            "url_invalid",
            "return_url must be an absolute http(s) URL.",
        ));
    }
    if params
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1000)
    {
        return Err(ProviderError::invalid_param(
            "description",
            "parameter_invalid_string",
            "description must have at most 1000 characters.",
        ));
    }
    if params.metadata.len() > MAX_METADATA_KEYS {
        return Err(ProviderError::invalid_param(
            "metadata",
            "parameter_invalid_object",
            format!("metadata may have at most {MAX_METADATA_KEYS} keys."),
        ));
    }
    for (key, value) in &params.metadata {
        if key.is_empty() || key.chars().count() > 40 || value.chars().count() > 500 {
            return Err(ProviderError::invalid_param(
                &format!("metadata[{key}]"),
                "parameter_invalid_string",
                "metadata keys have 1 to 40 characters and values at most 500.",
            ));
        }
    }
    Ok(params)
}
