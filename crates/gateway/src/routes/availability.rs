//! Availability search: offers with per-night prices, across hotels or in one.

use axum::extract::{Path, State};
use axum::response::{IntoResponse as _, Response};
use http::{HeaderValue, header};
use innkeeper_catalog::api::{AvailabilityQuery, HotelAvailabilityQuery, Offer, Place, SortOrder};
use innkeeper_kernel::StayDates;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::hotels::{DEFAULT_RADIUS_KM, MAX_RADIUS_KM};
use crate::GatewaySettings;
use crate::extract::{ApiQuery, hotel_id};
use crate::params::ParamCheck;
use crate::{ApiError, Problem};

/// Most rooms one search or booking may ask for.
const MAX_ROOMS: u32 = 9;

/// A search across hotels: exactly one of `city` and `near`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AvailabilityParams {
    /// City name, case-insensitive (or give `near`).
    city: Option<String>,
    /// Centre of a radius search: `lat,lon` in decimal degrees (or give `city`).
    #[param(example = "38.71,-9.14")]
    near: Option<String>,
    /// Radius around `near`, km: greater than 0, at most 200 (default 10).
    #[param(value_type = Option<f64>)]
    radius_km: Option<String>,
    /// First night, `YYYY-MM-DD`, not in the past.
    #[param(required = true, value_type = String, format = Date)]
    check_in: Option<String>,
    /// Departure day, `YYYY-MM-DD`, after `check_in`.
    #[param(required = true, value_type = String, format = Date)]
    check_out: Option<String>,
    /// Guests in total (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    guests: Option<String>,
    /// Rooms wanted, 1 to 9 (default 1); at most one per guest.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 9)]
    rooms: Option<String>,
    /// Highest acceptable total for the whole stay, minor units of the hotel's currency.
    #[param(value_type = Option<i64>, minimum = 0)]
    max_price: Option<String>,
    /// `price` (cheapest first, the default) or `distance` (nearest first; needs `near`).
    #[param(value_type = Option<SortOrder>)]
    sort: Option<String>,
    /// At most this many offers, 1 to 200 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

/// A search in one hotel.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HotelAvailabilityParams {
    /// First night, `YYYY-MM-DD`, not in the past.
    #[param(required = true, value_type = String, format = Date)]
    check_in: Option<String>,
    /// Departure day, `YYYY-MM-DD`, after `check_in`.
    #[param(required = true, value_type = String, format = Date)]
    check_out: Option<String>,
    /// Guests in total (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    guests: Option<String>,
    /// Rooms wanted, 1 to 9 (default 1); at most one per guest.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 9)]
    rooms: Option<String>,
}

/// The stay and the party asked for: `(stay, guests, rooms)`.
fn stay_and_party(
    check: &mut ParamCheck,
    settings: &GatewaySettings,
    raw: [Option<&str>; 4],
) -> Option<(StayDates, u32, u32)> {
    let [check_in, check_out, guests, rooms] = raw;
    let check_in = check.required_date("check_in", check_in);
    let check_out = check.required_date("check_out", check_out);
    let guests = if guests.is_some_and(|g| !g.trim().is_empty()) {
        check.int("guests", guests, 1..=settings.max_guests)
    } else {
        Some(1)
    };
    let rooms = if rooms.is_some_and(|r| !r.trim().is_empty()) {
        check.int("rooms", rooms, 1..=MAX_ROOMS)
    } else {
        Some(1)
    };
    if let (Some(g), Some(r)) = (guests, rooms)
        && g < r
    {
        check.invalid("rooms", "every room needs at least one guest");
    }
    let (check_in, check_out) = check_in.zip(check_out)?;
    let today = settings.clock.today();
    match StayDates::new(check_in, check_out, today, settings.max_nights) {
        Ok(stay) => Some((stay, guests?, rooms?)),
        Err(err) => {
            check.absorb(err);
            None
        }
    }
}

fn given(raw: &Option<String>) -> bool {
    raw.as_deref().is_some_and(|v| !v.trim().is_empty())
}

/// Turns the search's parameters into a catalog query, naming every bad parameter.
fn availability_query(
    params: &AvailabilityParams,
    settings: &GatewaySettings,
) -> Result<AvailabilityQuery, ApiError> {
    let mut check = ParamCheck::default();
    let party = stay_and_party(
        &mut check,
        settings,
        [
            params.check_in.as_deref(),
            params.check_out.as_deref(),
            params.guests.as_deref(),
            params.rooms.as_deref(),
        ],
    );
    let radius_km = check.number("radius_km", params.radius_km.as_deref());
    if radius_km.is_some_and(|r| !(r > 0.0 && r <= MAX_RADIUS_KM)) {
        check.invalid(
            "radius_km",
            format!("must be greater than 0 and at most {MAX_RADIUS_KM}"),
        );
    }
    let place = match (given(&params.city), given(&params.near)) {
        (true, true) => {
            check.invalid("city", "give either city or near, not both");
            check.invalid("near", "give either city or near, not both");
            None
        }
        (false, false) => {
            check.malformed("city", "city or near is required");
            None
        }
        (true, false) => {
            if radius_km.is_some() {
                check.invalid("radius_km", "needs `near`");
            }
            check
                .text("city", params.city.as_deref(), 120)
                .map(Place::City)
        }
        (false, true) => check
            .point("near", params.near.as_deref())
            .map(|point| Place::Near {
                point,
                radius_km: radius_km.unwrap_or(DEFAULT_RADIUS_KM),
            }),
    };
    let sort = match params.sort.as_deref().map(str::trim) {
        None | Some("") | Some("price") => SortOrder::Price,
        Some("distance") => SortOrder::Distance,
        Some(_) => {
            check.malformed("sort", "must be `price` or `distance`");
            SortOrder::Price
        }
    };
    if sort == SortOrder::Distance && given(&params.city) {
        check.invalid("sort", "sorting by distance needs `near`");
    }
    let max_price = check.int("max_price", params.max_price.as_deref(), 0..=i64::MAX);
    let limit = check
        .int("limit", params.limit.as_deref(), 1..=200u32)
        .unwrap_or(20);
    let (place, (stay, guests, rooms)) = check.conclude(place.zip(party))?;
    Ok(AvailabilityQuery {
        place,
        stay,
        guests,
        rooms,
        max_price,
        sort,
        limit,
    })
}

/// Offers across hotels in a city or around a point, cheapest or nearest first.
#[utoipa::path(
    get,
    path = "/availability",
    tag = "catalog",
    params(AvailabilityParams),
    responses(
        (status = 200, description = "Room types with every night free for the party, priced night by night", body = Vec<Offer>),
        (status = 400, description = "A parameter is missing or cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid stay, party, place or range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn search_availability(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AvailabilityParams>,
) -> Result<Response, ApiError> {
    let query = availability_query(&params, &state.settings)?;
    Ok(offers_json(
        &state.catalog.search_availability(query).await?,
    ))
}

/// The offers as a JSON response, written once into a buffer sized for them (an offer is
/// ~0.65 KB; growing from a small buffer copies the body several times).
fn offers_json(offers: &[Offer]) -> Response {
    let mut body = Vec::with_capacity(64 + offers.len() * 720);
    super::offer_json::write_offers(&mut body, offers);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Offers in one hotel, cheapest first.
#[utoipa::path(
    get,
    path = "/hotels/{id}/availability",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The hotel"), HotelAvailabilityParams),
    responses(
        (status = 200, description = "The hotel's room types with every night free for the party", body = Vec<Offer>),
        (status = 400, description = "Malformed id, or a parameter is missing or cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid stay or party", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn hotel_availability(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<HotelAvailabilityParams>,
) -> Result<Response, ApiError> {
    let hotel_id = hotel_id(&id)?;
    let mut check = ParamCheck::default();
    let raw = [
        params.check_in.as_deref(),
        params.check_out.as_deref(),
        params.guests.as_deref(),
        params.rooms.as_deref(),
    ];
    let party = stay_and_party(&mut check, &state.settings, raw);
    let (stay, guests, rooms) = check.conclude(party)?;
    let query = HotelAvailabilityQuery {
        hotel_id,
        stay,
        guests,
        rooms,
    };
    Ok(offers_json(&state.catalog.hotel_availability(query).await?))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use innkeeper_kernel::{ErrorCode, ManualClock};
    use time::macros::datetime;

    use super::*;

    fn settings() -> GatewaySettings {
        GatewaySettings {
            clock: Arc::new(ManualClock::new(datetime!(2026-11-22 10:00 UTC))),
            ..GatewaySettings::default()
        }
    }

    fn search(pairs: &[(&str, &str)]) -> Result<AvailabilityQuery, innkeeper_kernel::Error> {
        let mut p = AvailabilityParams::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "city" => p.city = v,
                "near" => p.near = v,
                "radius_km" => p.radius_km = v,
                "check_in" => p.check_in = v,
                "check_out" => p.check_out = v,
                "guests" => p.guests = v,
                "rooms" => p.rooms = v,
                "sort" => p.sort = v,
                _ => unreachable!("{k}"),
            }
        }
        availability_query(&p, &settings()).map_err(|e| e.0)
    }

    fn fields(err: &innkeeper_kernel::Error) -> Vec<&str> {
        err.errors.iter().map(|e| e.field.as_str()).collect()
    }

    const STAY: [(&str, &str); 2] = [("check_in", "2026-12-01"), ("check_out", "2026-12-03")];

    #[test]
    fn a_city_search_gets_defaults() {
        let q = search(&[STAY[0], STAY[1], ("city", "Lisbon")]).expect("valid");
        assert_eq!(
            (q.guests, q.rooms, q.limit, q.sort),
            (1, 1, 20, SortOrder::Price)
        );
        assert_eq!(q.place, Place::City("Lisbon".into()));
        assert_eq!(q.stay.night_count(), 2);
    }

    #[test]
    fn exactly_one_place_is_required() {
        let err = search(&[STAY[0], STAY[1]]).expect_err("no place");
        assert_eq!(
            (err.code, fields(&err)),
            (ErrorCode::InvalidRequest, vec!["city"])
        );
        let err = search(&[STAY[0], STAY[1], ("city", "Lisbon"), ("near", "38.7,-9.1")])
            .expect_err("both");
        assert_eq!(
            (err.code, fields(&err)),
            (ErrorCode::ValidationFailed, vec!["city", "near"])
        );
    }

    #[test]
    fn the_stay_and_party_are_checked_together() {
        let err = search(&[
            ("check_in", "2026-11-01"),
            ("check_out", "2026-11-03"),
            ("city", "Lisbon"),
        ])
        .expect_err("past");
        assert_eq!(fields(&err), vec!["check_in"]);
        let err = search(&[
            STAY[0],
            STAY[1],
            ("city", "L"),
            ("guests", "1"),
            ("rooms", "2"),
        ])
        .expect_err("empty room");
        assert_eq!(fields(&err), vec!["rooms"]);
        let err =
            search(&[STAY[0], ("check_out", "2027-02-01"), ("city", "L")]).expect_err("too long");
        assert_eq!(fields(&err), vec!["check_out"]);
        let err = search(&[STAY[0], STAY[1], ("near", "38.7,-9.1"), ("radius_km", "0")])
            .expect_err("radius");
        assert_eq!(fields(&err), vec!["radius_km"]);
        let err =
            search(&[STAY[0], STAY[1], ("city", "L"), ("sort", "distance")]).expect_err("sort");
        assert_eq!(fields(&err), vec!["sort"]);
    }
}
