//! The handlers of `/api/v1`, one file per resource family, and the OpenAPI document they make.

use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use innkeeper_booking::api::BookingClient;
use innkeeper_catalog::api::CatalogClient;
use innkeeper_identity::api::IdentityClient;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::GatewaySettings;
use crate::extract::etag;

mod availability;
mod bookings;
mod hotels;
mod identity;
mod inventory;
mod offer_json;
mod payments;
mod rooms;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) catalog: CatalogClient,
    pub(crate) identity: IdentityClient,
    pub(crate) booking: Option<BookingClient>,
    pub(crate) payment: Option<innkeeper_payment::api::PaymentClient>,
    pub(crate) settings: Arc<GatewaySettings>,
}

/// The document's frame; the paths come from the handlers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Innkeeper API",
        version = "1.0.0",
        description = "Hotel reservations. Errors are `application/problem+json` (RFC 9457) with a stable `code`; \
                       mutable resources carry an `ETag` and `PATCH` requires `If-Match`."
    ),
    tags(
        (name = "identity", description = "Accounts, tokens and the caller's profile"),
        (name = "catalog", description = "Hotels, room types, rooms, rates, inventory and availability"),
        (name = "bookings", description = "Bookings: book, read, list, change, cancel, front desk, history"),
        (name = "payments", description = "A booking's payment: amount, status, refunds"),
        (name = "meta", description = "Service information")
    ),
    // The provider's webhook: served by the payment service beside this edge, not through it.
    paths(payments::provider_webhook),
    components(schemas(crate::Problem)),
    modifiers(&BearerAuth)
)]
pub(crate) struct ApiDoc;

/// Declares the `bearer` security scheme the protected operations name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        api.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
    }
}

/// The issuer's documents at the root (`/.well-known/...`), documented.
pub(crate) fn well_known() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(identity::jwks))
        .routes(routes!(identity::openid_configuration))
}

/// The routes of `/api/v1`, documented.
pub(crate) fn api_v1() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ping))
        .routes(routes!(identity::register))
        .routes(routes!(identity::login))
        .routes(routes!(identity::refresh))
        .routes(routes!(identity::logout))
        .routes(routes!(identity::me, identity::update_me))
        .routes(routes!(hotels::list_hotels, hotels::create_hotel))
        .routes(routes!(hotels::get_hotel, hotels::update_hotel))
        .routes(routes!(rooms::create_room_type))
        .routes(routes!(rooms::update_room_type))
        .routes(routes!(rooms::list_rooms, rooms::create_room))
        .routes(routes!(rooms::update_room))
        .routes(routes!(inventory::set_rates))
        .routes(routes!(inventory::set_inventory))
        .routes(routes!(inventory::get_inventory))
        .routes(routes!(availability::search_availability))
        .routes(routes!(availability::hotel_availability))
        .routes(routes!(bookings::list_bookings, bookings::create_booking))
        .routes(routes!(bookings::get_booking, bookings::modify_booking))
        .routes(routes!(bookings::get_booking_by_reference))
        .routes(routes!(bookings::cancel_booking))
        .routes(routes!(bookings::booking_history))
        .routes(routes!(bookings::check_in))
        .routes(routes!(bookings::check_out))
        .routes(routes!(bookings::no_show))
        .routes(routes!(bookings::upgrade))
        .routes(routes!(payments::get_payment))
}

/// Where the payment service takes the provider's webhook (documented by
/// [`payments::provider_webhook`]).
const PROVIDER_WEBHOOK_PATH: &str = innkeeper_payment::WEBHOOK_PATH;

/// Documents, on every operation, the failures any endpoint may answer (500, 503 with
/// `Retry-After`, 405, ...) as a `default` problem response; the likely ones are listed per
/// handler.
pub(crate) fn document_other_failures(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let response = ResponseBuilder::new()
        .description("Any other failure, such as 500 or 503 (with `Retry-After`)")
        .content(
            crate::problem::PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();
    let rate_limited = ResponseBuilder::new()
        .description("Over the caller's request quota; `Retry-After` says when to try again")
        .header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::Integer),
                ))
                .description(Some("Whole seconds"))
                .build(),
        )
        .content(
            crate::problem::PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();
    for (path, item) in api.paths.paths.iter_mut() {
        // The provider's webhook is served beside this edge, not behind its request quotas.
        let quota = path != PROVIDER_WEBHOOK_PATH;
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if quota {
                operation
                    .responses
                    .responses
                    .entry("429".to_owned())
                    .or_insert_with(|| rate_limited.clone().into());
            }
            operation
                .responses
                .responses
                .entry("default".to_owned())
                .or_insert_with(|| response.clone().into());
        }
    }
}

/// The answer of `/ping`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Pong {
    /// Always `ok`.
    status: &'static str,
}

/// A trivial JSON endpoint: liveness of the edge itself, and the ceiling of benchmarks.
#[utoipa::path(get, path = "/ping", tag = "meta", responses((status = 200, description = "The edge answers", body = Pong)))]
pub(crate) async fn ping() -> Json<Pong> {
    Json(Pong { status: "ok" })
}

/// A JSON response carrying the `ETag` of the version it shows.
pub(crate) fn versioned<T: Serialize>(status: StatusCode, version: i64, body: T) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// A 201 with `Location` and `ETag`.
pub(crate) fn created<T: Serialize>(location: String, version: i64, body: T) -> Response {
    let mut response = versioned(StatusCode::CREATED, version, body);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
