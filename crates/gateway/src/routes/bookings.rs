//! `/bookings`: book a stay, read, list, change, cancel, the front desk (check-in, check-out,
//! no-show, upgrade) and the audit trail.
//!
//! Changes accept an `Idempotency-Key`: the booking service runs a request once per key and
//! answers repeats with the stored answer, which this edge marks `Idempotency-Replayed: true`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use innkeeper_booking::api::{
    Booking, BookingClient, BookingId, BookingPatch, BookingQuery, BookingStatus, HistoryEntry,
    IdempotencyKey, Idempotent, NewBooking,
};
use innkeeper_kernel::{Error, HotelId, Page, RoomId, RoomTypeId};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::{IntoParams, ToSchema};

use super::{AppState, created, versioned};
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiQuery, IfMatch, decode_json, parse_version};
use crate::params::ParamCheck;
use crate::{API_V1, ApiError, Problem};

/// The header that carries a request's idempotency key.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The header that marks a replayed answer.
pub(crate) const IDEMPOTENCY_REPLAYED: &str = "idempotency-replayed";

/// The booking service, or 503 when this node reaches none.
fn bookings(state: &AppState) -> Result<&BookingClient, ApiError> {
    state.booking.as_ref().ok_or_else(|| {
        ApiError(Error::unavailable(
            "bookings are not served by this node; try again later",
        ))
    })
}

/// The `{id}` of `/bookings/{id}`.
fn booking_id(raw: &str) -> Result<BookingId, ApiError> {
    uuid::Uuid::parse_str(raw).map(BookingId).map_err(|_| {
        let message = "must be a booking id (UUID)";
        ApiError(Error::invalid_request(format!("id: {message}")).with_field("id", message))
    })
}

/// The `Idempotency-Key` header, if sent.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError(Error::invalid_field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ))
    })?;
    Ok(Some(IdempotencyKey::parse(text)?))
}

/// What every change of a booking reads from its path and headers.
struct Change {
    id: BookingId,
    if_match: Option<i64>,
    key: Option<IdempotencyKey>,
}

/// The booking a change is for, its `If-Match` version and its `Idempotency-Key`, if sent.
fn change(id: &str, headers: &HeaderMap) -> Result<Change, ApiError> {
    Ok(Change {
        id: booking_id(id)?,
        if_match: optional_if_match(headers)?,
        key: idempotency_key(headers)?,
    })
}

/// The `If-Match` header as a version, if sent (optional on cancellation).
fn optional_if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(parse_version)
        .map(Some)
        .ok_or_else(|| {
            let message = "must be the resource's ETag, such as \"3\"";
            ApiError(
                Error::invalid_request(format!("If-Match {message}"))
                    .with_field("If-Match", message),
            )
        })
}

/// An optional JSON body: empty means every field's default.
fn optional_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        Ok(decode_json(body)?)
    }
}

/// The answer of an idempotent change: `status` and the booking with its `ETag`, or the
/// problem; a stored answer carries `Idempotency-Replayed: true` either way.
fn answer(outcome: Idempotent<Booking>, respond: impl FnOnce(Booking) -> Response) -> Response {
    let mut response = match outcome.result {
        Ok(booking) => respond(booking),
        Err(err) => ApiError(err).into_response(),
    };
    if outcome.replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// Books a stay for the caller (a guest): the rooms are held until payment.
#[utoipa::path(
    post,
    path = "/bookings",
    tag = "bookings",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; repeats get the first answer (1 to 255 visible ASCII characters)"),
    ),
    request_body(content = NewBooking, content_type = "application/json"),
    responses(
        (status = 201, description = "The booking, `pending_payment`", body = Booking, headers(
            ("Location" = String, description = "The booking's URL"),
            ("ETag" = String, description = "The booking's version, for `If-Match`"),
            ("Idempotency-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key"),
        )),
        (status = 400, description = "The body or a header cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only guests book", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel or room type", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Sold out for a night of the stay (`sold_out`), or the same key is still running (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, or the key was used for another request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_booking(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewBooking>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let outcome = bookings(&state)?.create(&caller, new, key).await;
    Ok(answer(outcome, |booking| {
        created(
            format!("{API_V1}/bookings/{}", booking.id),
            booking.version,
            booking,
        )
    }))
}

/// A booking by id (the guest's own, or a booking of the hotelier's hotel).
#[utoipa::path(
    get,
    path = "/bookings/{id}",
    tag = "bookings",
    params(("id" = uuid::Uuid, Path, description = "The booking")),
    responses(
        (status = 200, description = "The booking", body = Booking, headers(
            ("ETag" = String, description = "The booking's version, for `If-Match`"),
        )),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_booking(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let booking = bookings(&state)?.get(&caller, booking_id(&id)?).await?;
    Ok(versioned(StatusCode::OK, booking.version, booking))
}

/// A booking by its human reference, such as `INK-7F3K9Q`.
#[utoipa::path(
    get,
    path = "/bookings/reference/{reference}",
    tag = "bookings",
    params(("reference" = String, Path, description = "The booking's reference")),
    responses(
        (status = 200, description = "The booking", body = Booking, headers(
            ("ETag" = String, description = "The booking's version, for `If-Match`"),
        )),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_booking_by_reference(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let booking = bookings(&state)?
        .get_by_reference(&caller, reference.trim())
        .await?;
    Ok(versioned(StatusCode::OK, booking.version, booking))
}

/// Filters of the booking list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BookingListParams {
    /// The hotel whose bookings to list (required for hoteliers; guests list their own).
    #[param(value_type = Option<uuid::Uuid>)]
    hotel_id: Option<String>,
    /// Only bookings in this status, such as `confirmed`.
    #[param(value_type = Option<BookingStatus>)]
    status: Option<String>,
    /// Stays that end after this day (`YYYY-MM-DD`).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Stays that begin before this day (`YYYY-MM-DD`).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Turns the list's parameters into a booking query, naming every bad parameter.
fn booking_query(params: &BookingListParams) -> Result<BookingQuery, ApiError> {
    let mut check = ParamCheck::default();
    let hotel_id = params
        .hotel_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|raw| match raw.parse::<HotelId>() {
            Ok(id) => Some(id),
            Err(_) => {
                check.malformed("hotel_id", "must be a hotel id (UUID)");
                None
            }
        });
    let status = params
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|raw| {
            let status = BookingStatus::parse(raw);
            if status.is_none() {
                check.invalid(
                    "status",
                    "must be one of pending_payment, confirmed, checked_in, checked_out, \
                     cancelled, expired, no_show",
                );
            }
            status
        });
    let query = BookingQuery {
        hotel_id,
        status,
        from: check.date("from", params.from.as_deref()),
        to: check.date("to", params.to.as_deref()),
        limit: check.int("limit", params.limit.as_deref(), 1..=100u32),
        cursor: check.text("cursor", params.cursor.as_deref(), 256),
    };
    check.finish()?;
    Ok(query)
}

/// The caller's bookings (a guest), or a hotel's (its hotelier, with `hotel_id`), by check-in
/// day, a page at a time.
#[utoipa::path(
    get,
    path = "/bookings",
    tag = "bookings",
    params(BookingListParams),
    responses(
        (status = 200, description = "A page of bookings", body = Page<Booking>),
        (status = 400, description = "A parameter cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is out of range, or `hotel_id` is missing for a hotelier", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_bookings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<BookingListParams>,
) -> Result<Json<Page<Booking>>, ApiError> {
    let query = booking_query(&params)?;
    Ok(Json(bookings(&state)?.list(&caller, query).await?))
}

/// What a cancellation may say (the body is optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelRequest {
    /// Why, for the history (at most what the service accepts).
    #[serde(default)]
    reason: Option<String>,
}

/// Cancels a booking (its guest, or its hotel's owner): the rooms are released and the
/// refund the cancellation policy allows is recorded.
#[utoipa::path(
    post,
    path = "/bookings/{id}/cancel",
    tag = "bookings",
    params(
        ("id" = uuid::Uuid, Path, description = "The booking"),
        ("If-Match" = Option<String>, Header, description = "Cancel only if the booking is still at this ETag"),
        ("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; repeats get the first answer"),
    ),
    request_body(content = Option<CancelRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "The cancelled booking with its refund", body = Booking, headers(
            ("ETag" = String, description = "The booking's new version"),
            ("Idempotency-Replayed" = String, description = "`true` when this is a stored answer"),
        )),
        (status = 400, description = "Malformed id, body or header", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The booking can no longer be cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The booking changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn cancel_booking(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Change { id, if_match, key } = change(&id, &headers)?;
    let request: CancelRequest = optional_body(&body)?;
    let outcome = bookings(&state)?
        .cancel(&caller, id, if_match, request.reason, key)
        .await;
    Ok(answer(outcome, |booking| {
        versioned(StatusCode::OK, booking.version, booking)
    }))
}

/// Every change of a booking, oldest first: who did what, when.
#[utoipa::path(
    get,
    path = "/bookings/{id}/history",
    tag = "bookings",
    params(("id" = uuid::Uuid, Path, description = "The booking")),
    responses(
        (status = 200, description = "The booking's events", body = Vec<HistoryEntry>),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking, or not the caller's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn booking_history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let id = booking_id(&id)?;
    Ok(Json(bookings(&state)?.history(&caller, id).await?))
}

/// The `200` of a change: the booking with its new `ETag`.
fn changed(booking: Booking) -> Response {
    versioned(StatusCode::OK, booking.version, booking)
}

/// Changes dates, guests or room type (the guest, before the check-in day); the new stay is
/// held before the old one is given back.
#[utoipa::path(
    patch,
    path = "/bookings/{id}",
    tag = "bookings",
    params(
        ("id" = uuid::Uuid, Path, description = "The booking"),
        ("If-Match" = String, Header, description = "The ETag last read, such as `\"3\"`"),
        ("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; repeats get the first answer"),
    ),
    request_body(content = BookingPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed booking", body = Booking, headers(
            ("ETag" = String, description = "The booking's new version"),
            ("Idempotency-Replayed" = String, description = "`true` when this is a stored answer"),
        )),
        (status = 400, description = "Malformed id, body or header", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only the guest changes their booking", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Sold out for the new stay, or the booking can no longer change", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The booking changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn modify_booking(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    IfMatch(version): IfMatch,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<BookingPatch>,
) -> Result<Response, ApiError> {
    let id = booking_id(&id)?;
    let key = idempotency_key(&headers)?;
    let outcome = bookings(&state)?
        .modify(&caller, id, Some(version), patch, key)
        .await;
    Ok(answer(outcome, changed))
}

/// What a check-in may say (the body is optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckInRequest {
    /// The room to give (of the booked type, in service); ready rooms of the type otherwise.
    #[serde(default)]
    room_id: Option<RoomId>,
}

/// What an upgrade names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpgradeRequest {
    /// Another room type of the same hotel.
    room_type_id: RoomTypeId,
}

/// Checks the guest in (the hotel's owner, from the check-in day): one room per room booked.
#[utoipa::path(
    post,
    path = "/bookings/{id}/check-in",
    tag = "bookings",
    params(
        ("id" = uuid::Uuid, Path, description = "The booking"),
        ("If-Match" = Option<String>, Header, description = "Only if the booking is still at this ETag"),
        ("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; repeats get the first answer"),
    ),
    request_body(content = Option<CheckInRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "The booking, `checked_in`, with its rooms", body = Booking),
        (status = 403, description = "Only the hotel's owner checks guests in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not confirmed, not the day yet, or the room is taken", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The booking changed since that ETag", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn check_in(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Change { id, if_match, key } = change(&id, &headers)?;
    let request: CheckInRequest = optional_body(&body)?;
    let outcome = bookings(&state)?
        .check_in(&caller, id, request.room_id, if_match, key)
        .await;
    Ok(answer(outcome, changed))
}

/// Checks the guest out (the hotel's owner).
#[utoipa::path(
    post,
    path = "/bookings/{id}/check-out",
    tag = "bookings",
    params(
        ("id" = uuid::Uuid, Path, description = "The booking"),
        ("If-Match" = Option<String>, Header, description = "Only if the booking is still at this ETag"),
        ("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; repeats get the first answer"),
    ),
    responses(
        (status = 200, description = "The booking, `checked_out`", body = Booking),
        (status = 403, description = "Only the hotel's owner checks guests out", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The guest is not checked in", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The booking changed since that ETag", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn check_out(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Change { id, if_match, key } = change(&id, &headers)?;
    let outcome = bookings(&state)?
        .check_out(&caller, id, if_match, key)
        .await;
    Ok(answer(outcome, changed))
}

/// Records that the guest never came (the hotel's owner, on or after the check-in day).
#[utoipa::path(
    post,
    path = "/bookings/{id}/no-show",
    tag = "bookings",
    params(
        ("id" = uuid::Uuid, Path, description = "The booking"),
        ("If-Match" = Option<String>, Header, description = "Only if the booking is still at this ETag"),
        ("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; repeats get the first answer"),
    ),
    responses(
        (status = 200, description = "The booking, `no_show`", body = Booking),
        (status = 403, description = "Only the hotel's owner records a no-show", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not confirmed, or before the check-in day", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The booking changed since that ETag", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn no_show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Change { id, if_match, key } = change(&id, &headers)?;
    let outcome = bookings(&state)?.no_show(&caller, id, if_match, key).await;
    Ok(answer(outcome, changed))
}

/// Moves the stay to another room type of the hotel at the booked price (the hotel's owner,
/// until the check-in day).
#[utoipa::path(
    post,
    path = "/bookings/{id}/upgrade",
    tag = "bookings",
    params(
        ("id" = uuid::Uuid, Path, description = "The booking"),
        ("If-Match" = Option<String>, Header, description = "Only if the booking is still at this ETag"),
        ("Idempotency-Key" = Option<String>, Header, description = "Runs the request once; repeats get the first answer"),
    ),
    request_body(content = UpgradeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The upgraded booking", body = Booking),
        (status = 403, description = "Only the hotel's owner upgrades", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking or room type, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new type is sold out, or the booking can no longer change", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The booking changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<UpgradeRequest>,
) -> Result<Response, ApiError> {
    let Change { id, if_match, key } = change(&id, &headers)?;
    let outcome = bookings(&state)?
        .upgrade(&caller, id, request.room_type_id, if_match, key)
        .await;
    Ok(answer(outcome, changed))
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::ErrorCode;

    use super::*;

    #[test]
    fn list_parameters_are_checked_and_named() {
        let params = BookingListParams {
            status: Some("confirmed".into()),
            limit: Some("5".into()),
            ..Default::default()
        };
        let query = booking_query(&params).expect("valid");
        assert_eq!(query.status, Some(BookingStatus::Confirmed));
        assert_eq!(query.limit, Some(5));
        let params = BookingListParams {
            status: Some("dreaming".into()),
            ..Default::default()
        };
        let err = booking_query(&params).expect_err("invalid").0;
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.errors.iter().any(|e| e.field == "status"));
        let params = BookingListParams {
            hotel_id: Some("nope".into()),
            ..Default::default()
        };
        let err = booking_query(&params).expect_err("malformed").0;
        assert_eq!(err.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn idempotency_keys_and_if_match_are_read_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers).expect("absent"), None);
        assert_eq!(optional_if_match(&headers).expect("absent"), None);
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("k-1"));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("W/\"4\""));
        assert_eq!(
            idempotency_key(&headers)
                .expect("valid")
                .map(|k| k.as_str().to_owned()),
            Some("k-1".to_owned())
        );
        assert_eq!(optional_if_match(&headers).expect("valid"), Some(4));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"x\""));
        assert!(optional_if_match(&headers).is_err());
    }
}
