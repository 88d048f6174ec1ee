//! Room types (what guests book) and physical rooms (what the front desk assigns).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use innkeeper_catalog::api::{NewRoom, NewRoomType, Room, RoomPatch, RoomType, RoomTypePatch};

use super::{AppState, created, versioned};
use crate::auth::Caller;
use crate::extract::{ApiJson, IfMatch, hotel_id, room_id, room_type_id};
use crate::{API_V1, ApiError, Problem};

/// Adds a room type to one of the caller's hotels.
#[utoipa::path(
    post,
    path = "/hotels/{id}/room-types",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The hotel")),
    request_body(content = NewRoomType, content_type = "application/json"),
    responses(
        (status = 201, description = "The room type", body = RoomType, headers(
            ("Location" = String, description = "The room type's URL (for PATCH)"),
            ("ETag" = String, description = "The room type's version, for `If-Match`"),
        )),
        (status = 400, description = "Malformed id or body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_room_type(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewRoomType>,
) -> Result<Response, ApiError> {
    let hotel = hotel_id(&id)?;
    let room_type = state.catalog.create_room_type(&caller, hotel, new).await?;
    let location = format!("{API_V1}/hotels/{hotel}/room-types/{}", room_type.id);
    Ok(created(location, room_type.version, room_type))
}

/// Changes a room type; absent fields stay as they are.
#[utoipa::path(
    patch,
    path = "/hotels/{id}/room-types/{rt}",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The hotel"),
        ("rt" = uuid::Uuid, Path, description = "The room type"),
        ("If-Match" = String, Header, description = "The ETag last read, such as `\"3\"`"),
    ),
    request_body(content = RoomTypePatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed room type", body = RoomType, headers(
            ("ETag" = String, description = "The room type's new version"),
        )),
        (status = 400, description = "Malformed id, body or If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel or room type, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The room type changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_room_type(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, rt)): Path<(String, String)>,
    IfMatch(version): IfMatch,
    ApiJson(patch): ApiJson<RoomTypePatch>,
) -> Result<Response, ApiError> {
    let (hotel, rt) = (hotel_id(&id)?, room_type_id(&rt)?);
    let room_type = state
        .catalog
        .update_room_type(&caller, hotel, rt, version, patch)
        .await?;
    Ok(versioned(StatusCode::OK, room_type.version, room_type))
}

/// Adds a physical room to one of the caller's hotels.
#[utoipa::path(
    post,
    path = "/hotels/{id}/rooms",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The hotel")),
    request_body(content = NewRoom, content_type = "application/json"),
    responses(
        (status = 201, description = "The room", body = Room, headers(
            ("Location" = String, description = "The room's URL (for PATCH)"),
            ("ETag" = String, description = "The room's version, for `If-Match`"),
        )),
        (status = 400, description = "Malformed id or body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The hotel already has a room with that number", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_room(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewRoom>,
) -> Result<Response, ApiError> {
    let hotel = hotel_id(&id)?;
    let room = state.catalog.create_room(&caller, hotel, new).await?;
    let location = format!("{API_V1}/hotels/{hotel}/rooms/{}", room.id);
    Ok(created(location, room.version, room))
}

/// The hotel's physical rooms, by floor and number (owner and admin).
#[utoipa::path(
    get,
    path = "/hotels/{id}/rooms",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The hotel")),
    responses(
        (status = 200, description = "The rooms", body = Vec<Room>),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel, or not yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_rooms(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Room>>, ApiError> {
    Ok(Json(
        state.catalog.list_rooms(&caller, hotel_id(&id)?).await?,
    ))
}

/// Changes a room: number, floor, room type or housekeeping status.
#[utoipa::path(
    patch,
    path = "/hotels/{id}/rooms/{room}",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The hotel"),
        ("room" = uuid::Uuid, Path, description = "The room"),
        ("If-Match" = String, Header, description = "The ETag last read, such as `\"3\"`"),
    ),
    request_body(content = RoomPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed room", body = Room, headers(
            ("ETag" = String, description = "The room's new version"),
        )),
        (status = 400, description = "Malformed id, body or If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hotel or room, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The hotel already has a room with that number", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The room changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_room(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, room)): Path<(String, String)>,
    IfMatch(version): IfMatch,
    ApiJson(patch): ApiJson<RoomPatch>,
) -> Result<Response, ApiError> {
    let (hotel, room) = (hotel_id(&id)?, room_id(&room)?);
    let room = state
        .catalog
        .update_room(&caller, hotel, room, version, patch)
        .await?;
    Ok(versioned(StatusCode::OK, room.version, room))
}
