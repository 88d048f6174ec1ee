//! The payment provider's HTTP API, as this service uses it: create, read and cancel payment
//! intents, refund them.
//!
//! Every call goes through the provider's [`Downstream`] (deadline, breaker, retry budget).
//! Every POST carries an `Idempotency-Key` derived from our own id of the thing it creates or
//! changes, so every call is safe to retry: the provider answers a repeat with its first
//! answer and acts once. The provider's Stripe-shaped errors become kernel errors: 5xx, 429,
//! 409 and connection failures `unavailable` (retried), the deadline `timeout`, a refused
//! state `invalid_state`, a missing object `not_found`, a bad parameter `validation_failed`
//! naming it, an API key it refuses `internal` (a configuration fault, logged).

use std::collections::BTreeMap;
use std::time::Duration;

use innkeeper_kernel::{Error, ErrorCode, Money, Result};
use innkeeper_platform::resilience::{Downstream, Idempotency};
use serde_json::{Value, json};

/// The metrics label of the provider.
pub const DOWNSTREAM: &str = "payment_provider";

/// An intent as the provider shows it (the fields this service reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIntent {
    /// `pi_...`.
    pub id: String,
    /// `requires_payment_method`, `processing`, `succeeded`, `canceled`.
    pub status: String,
    pub amount: i64,
    pub amount_received: i64,
    pub amount_refunded: i64,
    /// Where the payer pays, while the intent waits for a payment method.
    pub checkout_url: Option<String>,
}

/// A refund as the provider shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// `re_...`.
    pub id: String,
    pub amount: i64,
    pub payment_intent: String,
}

/// The provider's API client.
#[derive(Debug, Clone)]
pub struct ProviderClient {
    http: reqwest::Client,
    base: String,
    api_key: String,
    downstream: Downstream,
}

impl ProviderClient {
    /// A client of the API at `base` (no trailing slash) authenticating with `api_key`, its
    /// calls made through `downstream`.
    pub fn new(base: &str, api_key: &str, downstream: Downstream) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent("innkeeper-payment")
            .connect_timeout(Duration::from_millis(
                downstream.config().attempt_timeout_ms.max(1),
            ))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal(format!("payment provider client: {e}")))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            downstream,
        })
    }

    /// The downstream its calls go through (breaker state, for tests and health).
    pub fn downstream(&self) -> &Downstream {
        &self.downstream
    }

    /// Creates an intent; `key` makes a repeat answer the same intent.
    pub async fn create_intent(
        &self,
        key: &str,
        amount: Money,
        return_url: &str,
        description: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<ProviderIntent> {
        let body = json!({
            "amount": amount.amount,
            "currency": amount.currency.as_str().to_ascii_lowercase(),
            "return_url": return_url,
            "description": description,
            "metadata": metadata,
        });
        let value = self.post("/v1/payment_intents", key, &body).await?;
        intent(&value)
    }

    /// Reads an intent.
    pub async fn get_intent(&self, id: &str) -> Result<ProviderIntent> {
        let path = format!("/v1/payment_intents/{id}");
        let value = self
            .downstream
            .call(Idempotency::Safe, || {
                self.send(reqwest::Method::GET, &path, None, None)
            })
            .await?;
        intent(&value)
    }

    /// Cancels an unpaid intent (`invalid_state` if it is paid or settling).
    pub async fn cancel_intent(&self, key: &str, id: &str) -> Result<ProviderIntent> {
        let body = json!({"cancellation_reason": "abandoned"});
        let value = self
            .post(&format!("/v1/payment_intents/{id}/cancel"), key, &body)
            .await?;
        intent(&value)
    }

    /// Refunds `amount` minor units of a paid intent.
    pub async fn refund(&self, key: &str, intent_id: &str, amount: i64) -> Result<ProviderRefund> {
        let body = json!({
            "payment_intent": intent_id,
            "amount": amount,
            "reason": "requested_by_customer",
        });
        let value = self.post("/v1/refunds", key, &body).await?;
        refund(&value)
    }

    /// A POST with an idempotency key: safe to retry.
    async fn post(&self, path: &str, key: &str, body: &Value) -> Result<Value> {
        self.downstream
            .call(Idempotency::Safe, || {
                self.send(reqwest::Method::POST, path, Some(key), Some(body))
            })
            .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.api_key);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(transport_error)?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        Err(provider_error(status, &value))
    }
}

/// A failure to reach the provider or read its answer.
fn transport_error(err: reqwest::Error) -> Error {
    if err.is_timeout() {
        Error::new(
            ErrorCode::Timeout,
            "the payment provider did not answer in time",
        )
    } else {
        Error::unavailable(format!("the payment provider is unreachable: {err}"))
    }
}

/// The provider's error answer as a kernel error.
pub(crate) fn provider_error(status: u16, body: &Value) -> Error {
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or_default();
    let message = error["message"].as_str().unwrap_or("no message");
    match status {
        429 | 409 | 500..=599 => {
            Error::unavailable(format!("the payment provider answered {status}: {message}"))
        }
        401 | 403 => Error::internal(format!(
            "the payment provider refused our API key ({status}): {message}"
        )),
        404 => Error::new(
            ErrorCode::NotFound,
            format!("the payment provider does not know it: {message}"),
        ),
        _ if matches!(
            code,
            "payment_intent_unexpected_state" | "charge_already_refunded" | "charge_not_refundable"
        ) =>
        {
            Error::invalid_state(format!("the payment provider refused: {message}"))
        }
        _ if error["type"].as_str() == Some("idempotency_error") => Error::conflict(format!(
            "the payment provider saw this idempotency key with other parameters: {message}"
        )),
        _ => match error["param"].as_str() {
            Some(param) => Error::invalid_field(param, message),
            None => Error::new(
                ErrorCode::InvalidRequest,
                format!("the payment provider refused the request ({status}): {message}"),
            ),
        },
    }
}

fn field<'v>(value: &'v Value, name: &str) -> Result<&'v Value> {
    match value.get(name) {
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(Error::internal(format!(
            "the payment provider's answer lacks `{name}`"
        ))),
    }
}

fn text(value: &Value, name: &str) -> Result<String> {
    field(value, name)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::internal(format!("payment provider: `{name}` is not text")))
}

fn number(value: &Value, name: &str) -> Result<i64> {
    field(value, name)?
        .as_i64()
        .ok_or_else(|| Error::internal(format!("payment provider: `{name}` is not a number")))
}

/// An intent object (from an answer or a webhook).
pub(crate) fn intent(value: &Value) -> Result<ProviderIntent> {
    Ok(ProviderIntent {
        id: text(value, "id")?,
        status: text(value, "status")?,
        amount: number(value, "amount")?,
        amount_received: value["amount_received"].as_i64().unwrap_or(0),
        amount_refunded: value["amount_refunded"].as_i64().unwrap_or(0),
        checkout_url: value["next_action"]["redirect_to_url"]["url"]
            .as_str()
            .map(str::to_owned),
    })
}

/// A refund object (from an answer or a webhook).
pub(crate) fn refund(value: &Value) -> Result<ProviderRefund> {
    Ok(ProviderRefund {
        id: text(value, "id")?,
        amount: number(value, "amount")?,
        payment_intent: text(value, "payment_intent")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_map_to_the_kernel_vocabulary() {
        let body = |kind: &str, code: &str, param: Option<&str>| json!({"error": {"type": kind, "code": code, "message": "m", "param": param}});
        let cases = [
            (503, body("api_error", "", None), ErrorCode::Unavailable),
            (500, body("api_error", "", None), ErrorCode::Unavailable),
            (429, body("api_error", "", None), ErrorCode::Unavailable),
            (
                409,
                body("invalid_request_error", "lock_timeout", None),
                ErrorCode::Unavailable,
            ),
            (
                404,
                body("invalid_request_error", "resource_missing", None),
                ErrorCode::NotFound,
            ),
            (
                400,
                body(
                    "invalid_request_error",
                    "payment_intent_unexpected_state",
                    None,
                ),
                ErrorCode::InvalidState,
            ),
            (
                400,
                body(
                    "invalid_request_error",
                    "charge_already_refunded",
                    Some("payment_intent"),
                ),
                ErrorCode::InvalidState,
            ),
            (
                400,
                body("idempotency_error", "idempotency_key_in_use", None),
                ErrorCode::Conflict,
            ),
            (
                400,
                body("invalid_request_error", "amount_too_large", Some("amount")),
                ErrorCode::ValidationFailed,
            ),
            (
                401,
                body("invalid_request_error", "", None),
                ErrorCode::Internal,
            ),
            (502, Value::Null, ErrorCode::Unavailable),
        ];
        for (status, body, code) in cases {
            assert_eq!(provider_error(status, &body).code, code, "{status} {body}");
        }
        let err = provider_error(400, &body("invalid_request_error", "x", Some("amount")));
        assert_eq!(err.errors[0].field, "amount");
    }

    #[test]
    fn an_intent_object_is_read_with_its_checkout_link() {
        let value = json!({
            "id": "pi_1", "status": "requires_payment_method", "amount": 100,
            "amount_received": 0, "amount_refunded": 0,
            "next_action": {"type": "redirect_to_url", "redirect_to_url": {"url": "http://p/checkout/pi_1"}},
        });
        let read = intent(&value).expect("reads");
        assert_eq!(read.checkout_url.as_deref(), Some("http://p/checkout/pi_1"));
        assert!(intent(&json!({"id": "pi_1"})).is_err());
    }
}
