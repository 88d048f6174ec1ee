//! Seasonal rates and per-night allotments of a room type, and the inventory counters.

use axum::Json;
use axum::extract::{Path, State};
use innkeeper_catalog::api::{InventoryNight, NightsChanged, SetInventory, SetRate};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiQuery, hotel_id, room_type_id};
use crate::params::ParamCheck;
use crate::{ApiError, Problem};

/// Sets the price of a range of nights, overriding the base price.
#[utoipa::path(
    put,
    path = "/hotels/{id}/room-types/{rt}/rates",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The hotel"),
        ("rt" = uuid::Uuid, Path, description = "The room type"),
    ),
    request_body(content = SetRate, content_type = "application/json"),
    responses(
        (status = 200, description = "How many nights now have this price", body = NightsChanged),
        (status = 400, description = "Malformed id or body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel or room type, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad range, price or minimum stay", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn set_rates(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, rt)): Path<(String, String)>,
    ApiJson(rate): ApiJson<SetRate>,
) -> Result<Json<NightsChanged>, ApiError> {
    let (hotel, rt) = (hotel_id(&id)?, room_type_id(&rt)?);
    Ok(Json(
        state.catalog.set_rate(&caller, hotel, rt, rate).await?,
    ))
}

/// Sets how many rooms of a type are sellable on a range of nights.
#[utoipa::path(
    put,
    path = "/hotels/{id}/room-types/{rt}/inventory",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The hotel"),
        ("rt" = uuid::Uuid, Path, description = "The room type"),
    ),
    request_body(content = SetInventory, content_type = "application/json"),
    responses(
        (status = 200, description = "How many nights now have this allotment", body = NightsChanged),
        (status = 400, description = "Malformed id or body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel or room type, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Below what is already held and sold on some night", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad range or total", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn set_inventory(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, rt)): Path<(String, String)>,
    ApiJson(inventory): ApiJson<SetInventory>,
) -> Result<Json<NightsChanged>, ApiError> {
    let (hotel, rt) = (hotel_id(&id)?, room_type_id(&rt)?);
    Ok(Json(
        state
            .catalog
            .set_inventory(&caller, hotel, rt, inventory)
            .await?,
    ))
}

/// The nights whose counters to show.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InventoryParams {
    /// First night, `YYYY-MM-DD`.
    #[param(required = true, value_type = String, format = Date)]
    from: Option<String>,
    /// First night not shown (exclusive), `YYYY-MM-DD`; at most 366 nights after `from`.
    #[param(required = true, value_type = String, format = Date)]
    to: Option<String>,
}

/// Counters per night per room type: sellable total, held, sold (owner and admin).
#[utoipa::path(
    get,
    path = "/hotels/{id}/inventory",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The hotel"), InventoryParams),
    responses(
        (status = 200, description = "One entry per room type per night", body = Vec<InventoryNight>),
        (status = 400, description = "Malformed id or dates", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`to` is not after `from`, or the range is too long", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_inventory(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<InventoryParams>,
) -> Result<Json<Vec<InventoryNight>>, ApiError> {
    let hotel = hotel_id(&id)?;
    let mut check = ParamCheck::default();
    let from = check.required_date("from", params.from.as_deref());
    let to = check.required_date("to", params.to.as_deref());
    if let (Some(from), Some(to)) = (from, to) {
        if to <= from {
            check.invalid("to", "must be after from");
        } else if (to - from).whole_days() > 366 {
            check.invalid("to", "at most 366 nights at a time");
        }
    }
    let (from, to) = check.conclude(from.zip(to))?;
    Ok(Json(
        state
            .catalog
            .get_inventory(&caller, hotel, from, to)
            .await?,
    ))
}
