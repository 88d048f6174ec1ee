//! The API describes itself: `/api/openapi.json`, `/docs`, and the trivial `/ping`.

use http::StatusCode;
use serde_json::json;

use crate::support::*;

/// Every path of the API; GET and POST share `/hotels`, GET and PATCH `/hotels/{id}`.
const API_PATHS: [&str; 30] = [
    "/.well-known/jwks.json",
    "/.well-known/openid-configuration",
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/me",
    "/api/v1/ping",
    "/api/v1/hotels",
    "/api/v1/hotels/{id}",
    "/api/v1/hotels/{id}/room-types",
    "/api/v1/hotels/{id}/room-types/{rt}",
    "/api/v1/hotels/{id}/rooms",
    "/api/v1/hotels/{id}/rooms/{room}",
    "/api/v1/hotels/{id}/room-types/{rt}/rates",
    "/api/v1/hotels/{id}/room-types/{rt}/inventory",
    "/api/v1/hotels/{id}/inventory",
    "/api/v1/availability",
    "/api/v1/hotels/{id}/availability",
    "/api/v1/bookings",
    "/api/v1/bookings/{id}",
    "/api/v1/bookings/reference/{reference}",
    "/api/v1/bookings/{id}/cancel",
    "/api/v1/bookings/{id}/history",
    "/api/v1/bookings/{id}/check-in",
    "/api/v1/bookings/{id}/check-out",
    "/api/v1/bookings/{id}/no-show",
    "/api/v1/bookings/{id}/upgrade",
    "/api/v1/payments/{id}",
    "/api/v1/payments/webhook",
];

#[tokio::test]
async fn ping_answers_ok() {
    let app = app().await;
    let reply = app.get("/api/v1/ping").await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (StatusCode::OK, json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_path() {
    let app = app().await;
    let reply = app.get("/api/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        reply.body["openapi"]
    );
    let paths = reply.body["paths"].as_object().expect("paths");
    for path in API_PATHS {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    assert_eq!(
        paths.len(),
        API_PATHS.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    let hotels = &paths["/api/v1/hotels"];
    assert!(hotels["get"].is_object() && hotels["post"].is_object());
    assert!(hotels["post"]["responses"]["422"]["content"]["application/problem+json"].is_object());
    // Every operation documents the rate limit's answer.
    for (path, item) in paths {
        if path == "/api/v1/payments/webhook" {
            // Served by the payment service beside the gateway, outside its quotas.
            assert!(item["post"]["responses"]["401"].is_object());
            assert!(item["post"]["security"].is_null(), "signed, not bearer");
            continue;
        }
        for (method, operation) in item.as_object().into_iter().flatten() {
            assert!(
                operation["responses"]["429"]["headers"]["Retry-After"].is_object(),
                "{method} {path} does not document 429"
            );
        }
    }
    let patch = &paths["/api/v1/hotels/{id}"]["patch"];
    for status in ["200", "412", "428", "default"] {
        assert!(
            patch["responses"][status].is_object(),
            "PATCH /hotels/{{id}} lacks {status}"
        );
    }
    let schemas = reply.body["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for schema in [
        "Problem",
        "Hotel",
        "NewHotel",
        "Offer",
        "BookingPayment",
        "Payment",
    ] {
        assert!(schemas.contains_key(schema), "{schema} missing");
    }
    assert_eq!(
        reply.body,
        serde_json::to_value(innkeeper_gateway::openapi()).expect("document")
    );
}

#[tokio::test]
async fn the_docs_are_served() {
    let app = app().await;
    let redirect = app.get("/docs").await;
    assert!(redirect.status.is_redirection(), "{}", redirect.status);
    assert_eq!(redirect.header("location"), "/docs/");
    let page = app.get("/docs/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.header("content-type").starts_with("text/html"),
        "{:?}",
        page.headers
    );
    assert!(page.text.contains("swagger"), "{}", page.text);
}
