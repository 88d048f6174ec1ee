//! `/hotels` and `/hotels/{id}`: list, open, read and change hotels.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use innkeeper_catalog::api::{Hotel, HotelDetails, HotelPatch, HotelQuery, HotelSummary, NewHotel};
use innkeeper_kernel::Page;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{AppState, created, versioned};
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiQuery, IfMatch, hotel_id};
use crate::params::ParamCheck;
use crate::{API_V1, ApiError, Problem};

/// Largest radius of a `near` search, km.
pub(crate) const MAX_RADIUS_KM: f64 = 200.0;
/// Radius of a `near` search when none is given, km (the catalog's default too).
pub(crate) const DEFAULT_RADIUS_KM: f64 = 10.0;

/// Filters of the hotel list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HotelListParams {
    /// City name, case-insensitive.
    city: Option<String>,
    /// Centre of a radius search: `lat,lon` in decimal degrees.
    #[param(example = "38.71,-9.14")]
    near: Option<String>,
    /// Radius around `near`, km: greater than 0, at most 200 (default 10).
    #[param(value_type = Option<f64>)]
    radius_km: Option<String>,
    /// Free text matched against name, city and description (at most 100 characters).
    q: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Turns the list's parameters into a catalog query, naming every bad parameter.
fn hotel_query(params: &HotelListParams) -> Result<HotelQuery, ApiError> {
    let mut check = ParamCheck::default();
    let near = check.point("near", params.near.as_deref());
    let radius_km = check.number("radius_km", params.radius_km.as_deref());
    if let Some(r) = radius_km {
        if !(r > 0.0 && r <= MAX_RADIUS_KM) {
            check.invalid(
                "radius_km",
                format!("must be greater than 0 and at most {MAX_RADIUS_KM}"),
            );
        } else if params.near.as_deref().is_none_or(|n| n.trim().is_empty()) {
            check.invalid("radius_km", "needs `near`");
        }
    }
    let query = HotelQuery {
        city: check.text("city", params.city.as_deref(), 120),
        near,
        radius_km: near.and(radius_km),
        q: check.text("q", params.q.as_deref(), 100),
        limit: check.int("limit", params.limit.as_deref(), 1..=100u32),
        cursor: check.text("cursor", params.cursor.as_deref(), 64),
    };
    check.finish()?;
    Ok(query)
}

/// Lists hotels by city, radius or text, a page at a time.
#[utoipa::path(
    get,
    path = "/hotels",
    tag = "catalog",
    params(HotelListParams),
    responses(
        (status = 200, description = "A page of hotels", body = Page<HotelSummary>),
        (status = 400, description = "A parameter cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_hotels(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<HotelListParams>,
) -> Result<Json<Page<HotelSummary>>, ApiError> {
    let query = hotel_query(&params)?;
    Ok(Json(state.catalog.list_hotels(query).await?))
}

/// Opens a hotel owned by the caller.
#[utoipa::path(
    post,
    path = "/hotels",
    tag = "catalog",
    request_body(content = NewHotel, content_type = "application/json"),
    responses(
        (status = 201, description = "The hotel, owned by the caller", body = Hotel, headers(
            ("Location" = String, description = "The hotel's URL"),
            ("ETag" = String, description = "The hotel's version, for `If-Match`"),
        )),
        (status = 400, description = "The body is not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only hoteliers and admins open hotels", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_hotel(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(new): ApiJson<NewHotel>,
) -> Result<Response, ApiError> {
    let hotel = state.catalog.create_hotel(&caller, new).await?;
    Ok(created(
        format!("{API_V1}/hotels/{}", hotel.id),
        hotel.version,
        hotel,
    ))
}

/// A hotel with its room types.
#[utoipa::path(
    get,
    path = "/hotels/{id}",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The hotel")),
    responses(
        (status = 200, description = "The hotel and its room types", body = HotelDetails, headers(
            ("ETag" = String, description = "The hotel's version, for `If-Match`"),
        )),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_hotel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let details = state.catalog.get_hotel(hotel_id(&id)?).await?;
    Ok(versioned(StatusCode::OK, details.hotel.version, details))
}

/// Changes a hotel; absent fields stay as they are.
#[utoipa::path(
    patch,
    path = "/hotels/{id}",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The hotel"),
        ("If-Match" = String, Header, description = "The ETag last read, such as `\"3\"`"),
    ),
    request_body(content = HotelPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed hotel", body = Hotel, headers(
            ("ETag" = String, description = "The hotel's new version"),
        )),
        (status = 400, description = "Malformed id, body or If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The hotel changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_hotel(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    IfMatch(version): IfMatch,
    ApiJson(patch): ApiJson<HotelPatch>,
) -> Result<Response, ApiError> {
    let hotel = state
        .catalog
        .update_hotel(&caller, hotel_id(&id)?, version, patch)
        .await?;
    Ok(versioned(StatusCode::OK, hotel.version, hotel))
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::ErrorCode;

    use super::*;

    fn params(near: Option<&str>, radius: Option<&str>) -> HotelListParams {
        HotelListParams {
            near: near.map(Into::into),
            radius_km: radius.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn a_radius_needs_a_centre_and_a_sane_size() {
        let q = hotel_query(&params(Some("38.7,-9.1"), None)).expect("valid");
        assert_eq!(q.radius_km, None, "the catalog's default applies");
        let q = hotel_query(&params(Some("38.7,-9.1"), Some("2.5"))).expect("valid");
        assert_eq!(q.radius_km, Some(2.5));
        let err = hotel_query(&params(None, Some("5")))
            .expect_err("no centre")
            .0;
        assert_eq!(
            (err.code, err.errors[0].field.as_str()),
            (ErrorCode::ValidationFailed, "radius_km")
        );
        let err = hotel_query(&params(Some("38.7,-9.1"), Some("500")))
            .expect_err("too wide")
            .0;
        assert_eq!(err.errors[0].field, "radius_km");
        let err = hotel_query(&params(Some("here"), None))
            .expect_err("unreadable")
            .0;
        assert_eq!(
            (err.code, err.errors[0].field.as_str()),
            (ErrorCode::InvalidRequest, "near")
        );
    }
}
