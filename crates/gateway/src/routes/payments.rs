//! `/payments`: a booking's payment as its guest (or an admin) sees it. The provider's webhook
//! (`POST /payments/webhook`) is served by the payment service itself, outside this edge's
//! bearer authentication: it is authenticated by its signature.

use axum::Json;
use axum::extract::{Path, State};
use innkeeper_kernel::{Error, Money};
use innkeeper_payment::api::{Intent, PaymentClient, PaymentId, RefundRecord};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::AppState;
use crate::{ApiError, Problem};

/// The payment service, or 503 when this node reaches none.
fn payments(state: &AppState) -> Result<&PaymentClient, ApiError> {
    state.payment.as_ref().ok_or_else(|| {
        ApiError(Error::unavailable(
            "payments are not served by this node; try again later",
        ))
    })
}

/// A booking's payment.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Payment {
    #[schema(value_type = String, format = Uuid)]
    id: uuid::Uuid,
    #[schema(value_type = String, format = Uuid)]
    booking_id: uuid::Uuid,
    /// The booking's reference.
    reference: String,
    /// `booking` (the stay's price) or `balance` (what a change to a dearer stay added).
    purpose: String,
    /// For a balance: the booking version of the change it settles.
    #[serde(skip_serializing_if = "Option::is_none")]
    modification: Option<i64>,
    /// `creating`, `requires_payment`, `processing`, `succeeded`, `failed` or `canceled`.
    status: String,
    /// What the booking costs.
    amount: Money,
    /// Refunded so far.
    amount_refunded: Money,
    /// Where the guest pays, while the payment waits for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    checkout_url: Option<String>,
    /// Why the payment failed (the provider's code), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_message: Option<String>,
    /// Refunds, oldest first.
    refunds: Vec<PaymentRefund>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    updated_at: OffsetDateTime,
}

/// A refund of a payment.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PaymentRefund {
    #[schema(value_type = String, format = Uuid)]
    id: uuid::Uuid,
    amount: Money,
    /// Why (`cancellation`, `expired`, `late_payment`, ...).
    reason: String,
    /// `pending` (being sent to the provider), `succeeded` or `failed`.
    status: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
}

impl From<RefundRecord> for PaymentRefund {
    fn from(r: RefundRecord) -> Self {
        Self {
            id: r.id,
            amount: r.amount,
            reason: r.reason,
            status: r.status.as_str().to_owned(),
            created_at: r.created_at,
        }
    }
}

impl From<Intent> for Payment {
    fn from(i: Intent) -> Self {
        Self {
            id: i.id.0,
            booking_id: i.booking_id,
            reference: i.reference,
            purpose: i.purpose.as_str().to_owned(),
            modification: i.modification,
            status: i.status.as_str().to_owned(),
            amount: i.amount,
            amount_refunded: Money {
                amount: i.amount_refunded,
                currency: i.amount.currency,
            },
            checkout_url: i.checkout_url,
            failure_code: i.failure_code,
            failure_message: i.failure_message,
            refunds: i.refunds.into_iter().map(PaymentRefund::from).collect(),
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// A payment by id (`payment.payment_id` of a booking): its amount, status and refunds.
#[utoipa::path(
    get,
    path = "/payments/{id}",
    tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "The payment")),
    responses(
        (status = 200, description = "The payment", body = Payment),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_payment(
    State(state): State<AppState>,
    crate::auth::Caller(caller): crate::auth::Caller,
    Path(id): Path<String>,
) -> Result<Json<Payment>, ApiError> {
    let id = uuid::Uuid::parse_str(&id).map(PaymentId).map_err(|_| {
        let message = "must be a payment id (UUID)";
        ApiError(Error::invalid_request(format!("id: {message}")).with_field("id", message))
    })?;
    let intent = payments(&state)?.get(&caller, id).await?;
    Ok(Json(intent.into()))
}

/// The card processor's notifications, signed as Standard Webhooks do: an HMAC-SHA256 over
/// `webhook-id.webhook-timestamp.body` (`v1,<base64>` signatures, several while a secret
/// rotates), a timestamp within 5 minutes, each `webhook-id` applied once. Served by the
/// payment service itself, outside the bearer authentication of this edge; documented here
/// (this function is never routed) so the API document lists every public path.
#[utoipa::path(
    post,
    path = "/api/v1/payments/webhook",
    tag = "payments",
    params(
        ("webhook-id" = String, Header, description = "The message's id; a replayed id is applied once"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds; refused outside 5 minutes of now"),
        ("webhook-signature" = String, Header, description = "Space-separated `v1,<base64 HMAC-SHA256>` signatures"),
    ),
    request_body(content = Object, description = "The provider's event (`payment_intent.succeeded`, `payment_intent.payment_failed`, `charge.refunded`, ...)", content_type = "application/json"),
    responses(
        (status = 204, description = "Applied, a duplicate, or about nothing of ours (`innkeeper-webhook-outcome`: `applied`, `duplicate`, `ignored`)"),
        (status = 400, description = "Signed, but not an event", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or bad signature, or a timestamp outside the window", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The payment database is busy; the provider retries", body = Problem, content_type = "application/problem+json"),
    )
)]
#[expect(
    dead_code,
    reason = "documentation of a route the payment service serves"
)]
pub(crate) async fn provider_webhook() {}
