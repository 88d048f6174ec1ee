//! Provider webhooks: verified, recorded once, applied once.
//!
//! 1. The signature (Standard Webhooks, any configured secret) and the timestamp (within
//!    `webhook_tolerance_seconds` of our clock, either way) are checked first; a message that
//!    fails is `unauthenticated`, logged and counted
//!    (`innkeeper_payment_webhook_rejected_total{reason}`), and touches nothing.
//! 2. Its id goes into `webhook_receipts` in the transaction that applies it: a message seen
//!    before (a provider retry after a lost answer, or a replay) commits nothing and is
//!    answered as a duplicate (2xx, so the provider stops), with no second effect.
//! 3. The event is applied through the status machine, which gives one end state whatever
//!    the order of arrival. A refund reported before the payment it refunds is proof of that
//!    payment (the provider refunds only captured intents), so it applies the success first.

use innkeeper_events::Tx;
use innkeeper_kernel::{Error, ErrorCode, Money, Result};
use innkeeper_payment_provider::events as provider_events;
use innkeeper_payment_provider::webhook_signature::{self, VerifyError};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PaymentService;
use crate::api::{PaymentId, PaymentStatus, RefundRecord, RefundStatus, WebhookOutcome};
use crate::domain::intent::Outcome;
use crate::provider;
use crate::store::{self, StoredIntent, StoredRefund};

fn rejected(reason: &'static str, detail: &str) -> Error {
    metrics::counter!("innkeeper_payment_webhook_rejected_total", "reason" => reason).increment(1);
    tracing::warn!(reason, detail, "payment webhook rejected");
    Error::new(
        ErrorCode::Unauthenticated,
        format!("webhook rejected: {detail}"),
    )
}

/// Verifies, records and applies one webhook message.
pub(crate) async fn handle(
    service: &PaymentService,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<WebhookOutcome> {
    let now = service.clock().now();
    let settings = service.settings();
    let id = webhook_signature::verify_headers(
        &settings.webhook_secrets,
        headers,
        body,
        now,
        settings.webhook_tolerance,
    )
    .map_err(|err| {
        let reason = match err {
            VerifyError::MissingHeader(_) => "missing_header",
            VerifyError::InvalidTimestamp => "invalid_timestamp",
            VerifyError::TooOld => "stale_timestamp",
            VerifyError::TooNew => "future_timestamp",
            VerifyError::NoMatchingSignature => "bad_signature",
        };
        rejected(reason, &err.to_string())
    })?
    .to_owned();
    let message: Value = serde_json::from_slice(body).map_err(|e| {
        metrics::counter!("innkeeper_payment_webhook_rejected_total", "reason" => "malformed")
            .increment(1);
        Error::invalid_request(format!("webhook body is not JSON: {e}"))
    })?;
    let event_type = message["type"].as_str().unwrap_or_default().to_owned();
    let object = message["data"]["object"].clone();
    let mut tx = service.store().begin().await?;
    let applied = async {
        if !store::insert_receipt(&mut tx, &id, &event_type, now).await? {
            return Ok(WebhookOutcome::Duplicate);
        }
        apply(service, &mut tx, &event_type, &object, now).await
    }
    .await;
    let outcome = store::finish(tx, applied).await?;
    let label = match outcome {
        WebhookOutcome::Applied => "applied",
        WebhookOutcome::Duplicate => "duplicate",
        WebhookOutcome::Ignored => "ignored",
    };
    metrics::counter!("innkeeper_payment_webhooks_total", "outcome" => label).increment(1);
    tracing::info!(webhook_id = %id, event_type, outcome = label, "payment webhook");
    Ok(outcome)
}

async fn apply(
    service: &PaymentService,
    tx: &mut Tx,
    event_type: &str,
    object: &Value,
    now: OffsetDateTime,
) -> Result<WebhookOutcome> {
    let outcome = match event_type {
        provider_events::PAYMENT_SUCCEEDED => Outcome::Succeeded,
        provider_events::PAYMENT_PROCESSING => Outcome::Processing,
        provider_events::PAYMENT_FAILED => Outcome::Failed,
        provider_events::PAYMENT_CANCELED => Outcome::Canceled,
        provider_events::REFUND_CREATED => return refund_created(service, tx, object, now).await,
        _ => return Ok(WebhookOutcome::Ignored),
    };
    let read = provider::intent(object).map_err(|_| {
        Error::invalid_request("webhook payment_intent object lacks its id or status")
    })?;
    let Some(current) = find_intent(tx, &read.id, object).await? else {
        tracing::info!(provider_intent_id = %read.id, "webhook about an intent that is not ours");
        return Ok(WebhookOutcome::Ignored);
    };
    let failure = object["last_payment_error"]["code"].as_str().map(|code| {
        (
            code.to_owned(),
            object["last_payment_error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    });
    service
        .apply_outcome(tx, current, outcome, failure, now)
        .await?;
    Ok(WebhookOutcome::Applied)
}

/// Our payment for a provider intent: by its id, else by the `payment_id` we put in its
/// metadata (an intent whose creation answer we never recorded), recording the id then.
async fn find_intent(
    tx: &mut Tx,
    provider_id: &str,
    object: &Value,
) -> Result<Option<StoredIntent>> {
    if let Some(found) = store::intent_by_provider_in(tx, provider_id).await? {
        return Ok(Some(found));
    }
    let Some(ours) = object["metadata"]["payment_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
    else {
        return Ok(None);
    };
    let Some(mut found) = store::intent_in(tx, PaymentId(ours)).await? else {
        return Ok(None);
    };
    if found.intent.provider_intent_id.is_some() {
        // Ours names another provider intent: this one is not ours.
        return Ok(None);
    }
    let expected = found.intent.version;
    found.intent.provider_intent_id = Some(provider_id.to_owned());
    if found.intent.status == PaymentStatus::Creating {
        found.intent.status = PaymentStatus::RequiresPayment;
    }
    found.intent.version += 1;
    store::update_intent(tx, &found, expected).await?;
    Ok(Some(found))
}

/// `refund.created`: ours (known by its provider id, or still being sent) changes nothing
/// here: the sender records it with the provider's answer. A refund made at the provider
/// directly is recorded as `external` and published.
async fn refund_created(
    service: &PaymentService,
    tx: &mut Tx,
    object: &Value,
    now: OffsetDateTime,
) -> Result<WebhookOutcome> {
    let refund = provider::refund(object)
        .map_err(|_| Error::invalid_request("webhook refund object lacks its fields"))?;
    let Some(intent) = store::intent_by_provider_in(tx, &refund.payment_intent).await? else {
        return Ok(WebhookOutcome::Ignored);
    };
    let refunds = store::refunds_in(tx, intent.intent.id).await?;
    let ours = refunds.iter().any(|r| {
        r.refund.provider_refund_id.as_deref() == Some(refund.id.as_str())
            || r.refund.status == RefundStatus::Pending
    });
    if ours {
        return Ok(WebhookOutcome::Applied);
    }
    let intent = if intent.intent.status == PaymentStatus::Succeeded {
        intent
    } else {
        // The provider refunds only captured payments: the success is certain, its message
        // has not arrived yet.
        service
            .apply_outcome(tx, intent.clone(), Outcome::Succeeded, None, now)
            .await?;
        store::intent_in(tx, intent.intent.id)
            .await?
            .ok_or_else(|| Error::internal("a payment vanished"))?
    };
    let external = StoredRefund {
        refund: RefundRecord {
            id: Uuid::now_v7(),
            payment_id: intent.intent.id,
            booking_id: intent.intent.booking_id,
            key: format!("provider:{}", refund.id),
            amount: Money {
                amount: refund.amount,
                currency: intent.intent.amount.currency,
            },
            reason: "external".to_owned(),
            status: RefundStatus::Succeeded,
            provider_refund_id: Some(refund.id.clone()),
            last_error: None,
            created_at: now,
        },
        attempts: 0,
        next_attempt_at: now,
    };
    if store::insert_refund(tx, &external).await? {
        service.refunded(tx, &external, now).await?;
    }
    Ok(WebhookOutcome::Applied)
}
