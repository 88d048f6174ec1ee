//! The provider's HTTP surface (Stripe-shaped, JSON):
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/payment_intents` | API key | create (`Idempotency-Key` honoured) |
//! | `GET /v1/payment_intents/{id}` | API key | read |
//! | `POST /v1/payment_intents/{id}/confirm` | API key | pay with a test token (`pm_card_visa`, ...) |
//! | `POST /v1/payment_intents/{id}/cancel` | API key | cancel an unpaid intent |
//! | `POST /v1/refunds` | API key | refund all or part (`Idempotency-Key` honoured) |
//! | `GET /v1/refunds?payment_intent=` | API key | an intent's refunds |
//! | `GET`/`POST /checkout/{id}` | the payer's browser | the hosted checkout page ([`checkout`]) |
//! | `/_admin/...` | API key | faults, ledger, webhook deliveries ([`admin`]) |
//!
//! Callers authenticate with `Authorization: Bearer sk_...`. A key used again with the same
//! parameters replays the first answer (`Idempotent-Replayed: true`); with other parameters
//! it is `400 idempotency_error`. Injected faults apply to `/v1` and `/checkout`, never to
//! `/_admin` (so a test can always undo them).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::app::{
    Answer, CancelIntent, ConfirmIntent, CreateIntent, CreateRefund, Keyed, ProviderService,
};
use crate::error::ProviderError;
use crate::faults::{self, FaultSwitch};
use crate::wire;

pub mod admin;
pub mod checkout;

/// The largest request body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler reaches.
#[derive(Debug, Clone)]
pub struct AppState {
    pub service: Arc<ProviderService>,
    pub faults: FaultSwitch,
}

/// Every route of the provider.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/payment_intents", post(create_intent))
        .route("/v1/payment_intents/{id}", get(get_intent))
        .route("/v1/payment_intents/{id}/confirm", post(confirm_intent))
        .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
        .route("/v1/refunds", post(create_refund).get(list_refunds))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let pages = checkout::routes();
    let faulty = api.merge(pages).layer(middleware::from_fn_with_state(
        state.faults.clone(),
        faults::inject,
    ));
    let admin =
        admin::routes().route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    faulty
        .merge(admin)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Lets through requests bearing one of the configured secret keys.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        return ProviderError::unauthenticated(
            "You did not provide an API key. Send it as Authorization: Bearer sk_...",
        )
        .into_response();
    };
    let known = state.service.settings().api_keys.iter().any(|key| {
        aws_lc_rs::constant_time::verify_slices_are_equal(key.as_bytes(), presented.as_bytes())
            .is_ok()
    });
    if !known {
        return ProviderError::unauthenticated("Invalid API Key provided.").into_response();
    }
    next.run(request).await
}

/// The answer as a response, marked when replayed.
fn respond(answer: Answer) -> Response {
    let status = http::StatusCode::from_u16(answer.status)
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response();
    if answer.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            http::HeaderValue::from_static("true"),
        );
    }
    response
}

/// Parses a JSON object body (an empty body is `{}`): the typed parameters and the value
/// they came from (whose fingerprint an idempotency key is bound to).
fn params<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Value), ProviderError> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ProviderError::invalid_request(
                "parameter_invalid_json",
                format!("The request body is not valid JSON: {e}"),
            )
        })?
    };
    if !value.is_object() {
        return Err(ProviderError::invalid_request(
            "parameter_invalid_json",
            "The request body must be a JSON object.",
        ));
    }
    let typed = serde_path_to_error::deserialize(value.clone()).map_err(|err| {
        let message = err.inner().to_string();
        let param = backticked(&message)
            .map(str::to_owned)
            .unwrap_or_else(|| err.path().to_string());
        let code = if message.starts_with("missing field") {
            "parameter_missing"
        } else if message.starts_with("unknown field") {
            "parameter_unknown"
        } else {
            "parameter_invalid"
        };
        ProviderError::invalid_param(&param, code, message)
    })?;
    Ok((typed, value))
}

/// The first `` `name` `` in a serde message (the missing or unknown field).
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

/// The request's `Idempotency-Key`, bound to the operation and its parameters.
fn key(
    headers: &HeaderMap,
    operation: &str,
    params: &Value,
) -> Result<Option<Keyed>, ProviderError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => {
            let key = value.to_str().map_err(|_| {
                ProviderError::invalid_request(
                    "idempotency_key_invalid",
                    "Idempotency-Key must be visible ASCII.",
                )
            })?;
            Keyed::new(key, operation, params).map(Some)
        }
    }
}

async fn create_intent(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let (params, raw) = params::<CreateIntent>(&body)?;
    let key = key(&headers, "POST /v1/payment_intents", &raw)?;
    Ok(respond(
        state.service.create_intent(params, key.as_ref()).await?,
    ))
}

async fn get_intent(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ProviderError> {
    let intent = state.service.intent_answer(&id).await?;
    Ok(respond(Answer {
        status: 200,
        body: intent.to_string(),
        replayed: false,
    }))
}

async fn confirm_intent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let (params, raw) = params::<ConfirmIntent>(&body)?;
    let key = key(
        &headers,
        &format!("POST /v1/payment_intents/{id}/confirm"),
        &raw,
    )?;
    Ok(respond(
        state.service.confirm(&id, params, key.as_ref()).await?,
    ))
}

async fn cancel_intent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let (params, raw) = params::<CancelIntent>(&body)?;
    let key = key(
        &headers,
        &format!("POST /v1/payment_intents/{id}/cancel"),
        &raw,
    )?;
    Ok(respond(
        state.service.cancel(&id, params, key.as_ref()).await?,
    ))
}

async fn create_refund(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let (params, raw) = params::<CreateRefund>(&body)?;
    let key = key(&headers, "POST /v1/refunds", &raw)?;
    Ok(respond(state.service.refund(params, key.as_ref()).await?))
}

/// `GET /v1/refunds` query.
#[derive(Debug, Deserialize)]
struct RefundQuery {
    payment_intent: String,
}

async fn list_refunds(
    State(state): State<AppState>,
    query: Result<Query<RefundQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ProviderError> {
    let Ok(Query(query)) = query else {
        return Err(ProviderError::invalid_param(
            "payment_intent",
            "parameter_missing",
            "List refunds of one payment: ?payment_intent=pi_...",
        ));
    };
    let refunds = state.service.store().refunds(&query.payment_intent).await?;
    let data: Vec<Value> = refunds.iter().map(wire::refund).collect();
    Ok(respond(Answer {
        status: 200,
        body: json!({"object": "list", "data": data, "has_more": false}).to_string(),
        replayed: false,
    }))
}

#[cfg(test)]
pub(crate) mod tests;
