//! The JSON shapes of the provider's objects (Stripe's names and layout): payment intents,
//! refunds, events, ledger entries. Instants are unix seconds, as Stripe writes them.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::domain::{IntentStatus, LedgerEntry, PaymentIntent, Refund};

/// The intent as the API and webhooks show it. `checkout_base` is the public URL: an unpaid
/// intent's `next_action` sends the payer to its hosted checkout page.
pub fn intent(intent: &PaymentIntent, checkout_base: &str) -> Value {
    let next_action = (intent.status == IntentStatus::RequiresPaymentMethod).then(|| {
        json!({
            "type": "redirect_to_url",
            "redirect_to_url": {
                "url": checkout_url(checkout_base, &intent.id),
                "return_url": intent.return_url,
            }
        })
    });
    let last_payment_error = intent.last_payment_error.as_ref().map(|e| {
        json!({
            "type": "card_error",
            "code": e.code,
            "decline_code": e.decline_code,
            "message": e.message,
        })
    });
    json!({
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_received": intent.amount_received,
        "amount_refunded": intent.amount_refunded,
        "currency": intent.currency,
        "status": intent.status.as_str(),
        "description": intent.description,
        "metadata": intent.metadata,
        "return_url": intent.return_url,
        "payment_method": intent.payment_method,
        "last_payment_error": last_payment_error,
        "next_action": next_action,
        "canceled_at": intent.canceled_at.map(unix),
        "cancellation_reason": intent.cancellation_reason,
        "created": unix(intent.created_at),
        "livemode": false,
    })
}

/// Where the payer pays an intent.
pub fn checkout_url(base: &str, intent_id: &str) -> String {
    format!("{base}/checkout/{intent_id}")
}

/// A refund (refunds here succeed at once).
pub fn refund(refund: &Refund) -> Value {
    json!({
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "currency": refund.currency,
        "payment_intent": refund.payment_intent,
        "reason": refund.reason,
        "status": "succeeded",
        "created": unix(refund.created_at),
    })
}

/// An event about `object`, as webhooks deliver it.
pub fn event(id: &str, event_type: &str, object: Value, at: OffsetDateTime) -> Value {
    json!({
        "id": id,
        "object": "event",
        "type": event_type,
        "created": unix(at),
        "livemode": false,
        "data": { "object": object },
    })
}

/// A ledger entry.
pub fn ledger_entry(entry: &LedgerEntry) -> Value {
    json!({
        "payment_intent": entry.payment_intent,
        "kind": entry.kind.as_str(),
        "amount": entry.amount,
        "currency": entry.currency,
        "refund": entry.refund_id,
        "created": unix(entry.at),
    })
}

fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}
