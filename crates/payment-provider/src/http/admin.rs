//! Test and demo controls (API key required, never subject to injected faults):
//!
//! - `GET /_admin/faults`, `POST /_admin/faults` `{latency_ms?, error_rate?, down?}`: the faults
//!   in force (missing fields are zero / false).
//! - `GET /_admin/ledger[?payment_intent=]`: the money that moved, with totals and the number
//!   of intents captured more than once (always 0: the check "no double charge" reads it).
//! - `GET /_admin/webhook_deliveries[?limit=]`: the latest deliveries with their attempts.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, params};
use crate::domain::LedgerKind;
use crate::error::ProviderError;
use crate::faults::Faults;
use crate::wire;

/// The admin routes.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/_admin/faults", get(get_faults).post(set_faults))
        .route("/_admin/ledger", get(ledger))
        .route("/_admin/webhook_deliveries", get(deliveries))
}

async fn get_faults(State(state): State<AppState>) -> Response {
    Json(state.faults.get()).into_response()
}

async fn set_faults(State(state): State<AppState>, body: Bytes) -> Result<Response, ProviderError> {
    let (faults, _) = params::<Faults>(&body)?;
    faults.check().map_err(|(param, message)| {
        ProviderError::invalid_param(param, "parameter_invalid", message)
    })?;
    state.faults.set(faults);
    tracing::warn!(?faults, "payment provider faults changed");
    Ok(Json(faults).into_response())
}

/// `?payment_intent=`.
#[derive(Debug, Default, Deserialize)]
struct LedgerQuery {
    payment_intent: Option<String>,
}

/// A query string that does not parse, as the provider's error.
fn bad_query(rejection: &QueryRejection) -> ProviderError {
    ProviderError::invalid_request("parameter_invalid", rejection.body_text())
}

async fn ledger(
    State(state): State<AppState>,
    query: Result<Query<LedgerQuery>, QueryRejection>,
) -> Result<Response, ProviderError> {
    let Query(query) = query.map_err(|r| bad_query(&r))?;
    let entries = state
        .service
        .store()
        .ledger(query.payment_intent.as_deref())
        .await?;
    let mut captures: BTreeMap<&str, u32> = BTreeMap::new();
    let (mut captured, mut refunded) = (0i64, 0i64);
    for entry in &entries {
        match entry.kind {
            LedgerKind::Capture => {
                captured += entry.amount;
                *captures.entry(&entry.payment_intent).or_default() += 1;
            }
            LedgerKind::Refund => refunded += entry.amount,
        }
    }
    let double_captures = captures.values().filter(|n| **n > 1).count();
    let data: Vec<Value> = entries.iter().map(wire::ledger_entry).collect();
    Ok(Json(json!({
        "captured": captured,
        "refunded": refunded,
        "captured_intents": captures.len(),
        "double_captures": double_captures,
        "entries": data,
    }))
    .into_response())
}

/// `?limit=`.
#[derive(Debug, Default, Deserialize)]
struct DeliveryQuery {
    limit: Option<u32>,
}

async fn deliveries(
    State(state): State<AppState>,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Response, ProviderError> {
    let Query(query) = query.map_err(|r| bad_query(&r))?;
    let store = state.service.store();
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let mut data = Vec::new();
    for delivery in store.deliveries(limit).await? {
        let attempts: Vec<Value> = store
            .attempts(&delivery.event_id)
            .await?
            .iter()
            .map(|a| {
                json!({
                    "attempt": a.attempt,
                    "started": a.started_at.unix_timestamp(),
                    "duration_ms": a.duration_ms,
                    "status_code": a.status_code,
                    "error": a.error,
                })
            })
            .collect();
        data.push(json!({
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "status": delivery.status.as_str(),
            "attempts": delivery.attempts,
            "next_attempt": delivery.next_attempt_at.unix_timestamp(),
            "created": delivery.created_at.unix_timestamp(),
            "last_error": delivery.last_error,
            "attempt_log": attempts,
        }));
    }
    Ok(Json(json!({ "data": data })).into_response())
}
