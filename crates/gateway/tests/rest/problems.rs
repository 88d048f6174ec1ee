//! Every kind of bad request, and failures of the server, answered as problem documents.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::Method;
use http::Request;
use innkeeper_gateway::{GatewaySettings, router};
use innkeeper_kernel::ManualClock;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn malformed_bodies_are_problems_naming_the_field() {
    let app = app().await;
    let syntax = app
        .raw(
            Method::POST,
            "/api/v1/hotels",
            Some("application/json"),
            "{\"name\": ",
        )
        .await;
    syntax.assert_problem(400, "invalid_request", None);

    let mut wrong_type = new_hotel("Casa");
    wrong_type["stars"] = json!("four");
    let reply = app.post("/api/v1/hotels", wrong_type).await;
    reply.assert_problem(422, "validation_failed", Some("stars"));
    assert!(
        !reply.text.contains("u8") && !reply.text.contains("NewHotel"),
        "{}",
        reply.text
    );

    let mut nested = new_hotel("Casa");
    nested["location"]["lat"] = json!("north");
    app.post("/api/v1/hotels", nested).await.assert_problem(
        422,
        "validation_failed",
        Some("location.lat"),
    );

    let mut missing = new_hotel("Casa");
    missing.as_object_mut().expect("object").remove("city");
    app.post("/api/v1/hotels", missing).await.assert_problem(
        422,
        "validation_failed",
        Some("city"),
    );

    let mut unknown = new_hotel("Casa");
    unknown["pool"] = json!(true);
    app.post("/api/v1/hotels", unknown).await.assert_problem(
        422,
        "validation_failed",
        Some("pool"),
    );

    let mut invalid = new_hotel(" ");
    invalid["country"] = json!("Portugal");
    let reply = app.post("/api/v1/hotels", invalid).await;
    reply.assert_problem(422, "validation_failed", Some("name"));
    reply.assert_problem(422, "validation_failed", Some("country"));

    let body = new_hotel("Casa").to_string();
    app.raw(Method::POST, "/api/v1/hotels", None, body.clone())
        .await
        .assert_problem(415, "unsupported_media_type", None);
    app.raw(Method::POST, "/api/v1/hotels", Some("text/plain"), body)
        .await
        .assert_problem(415, "unsupported_media_type", None);

    let mut huge = new_hotel("Casa");
    huge["description"] = json!("x".repeat(100 * 1024));
    app.post("/api/v1/hotels", huge)
        .await
        .assert_problem(413, "payload_too_large", None);

    let listed = app.get("/api/v1/hotels").await;
    assert_eq!(
        listed.body["items"],
        json!([]),
        "no refused request wrote anything"
    );
}

#[tokio::test]
async fn malformed_paths_and_queries_are_problems_naming_the_parameter() {
    let app = app().await;
    let hotel = app.hotel("Casa Azul").await;
    let reply = app.get("/api/v1/hotels/not-a-uuid").await;
    reply.assert_problem(400, "invalid_request", Some("id"));
    assert_eq!(reply.body["instance"], "/api/v1/hotels/not-a-uuid");
    app.get(&format!("/api/v1/hotels/{}", uuid_v4()))
        .await
        .assert_problem(404, "not_found", None);
    app.patch(
        &format!("/api/v1/hotels/{hotel}/room-types/42"),
        "\"1\"",
        json!({}),
    )
    .await
    .assert_problem(400, "invalid_request", Some("rt"));

    let stay = "check_in=2026-12-01&check_out=2026-12-03";
    let cases: &[(&str, u16, &str)] = &[
        (
            "city=Lisbon&check_in=2026-13-01&check_out=2026-12-03",
            400,
            "check_in",
        ),
        ("city=Lisbon&check_in=2026-12-01", 400, "check_out"),
        (&format!("city=Lisbon&{stay}&guests=two"), 400, "guests"),
        (&format!("city=Lisbon&{stay}&guests=0"), 422, "guests"),
        (&format!("city=Lisbon&{stay}&guests=51"), 422, "guests"),
        (&format!("city=Lisbon&{stay}&rooms=10"), 422, "rooms"),
        (&format!("city=Lisbon&{stay}&sort=stars"), 400, "sort"),
        (&format!("city=Lisbon&{stay}&limit=0"), 422, "limit"),
        (
            &format!("city=Lisbon&{stay}&max_price=-1"),
            422,
            "max_price",
        ),
        (stay, 400, "city"),
        (&format!("city=Lisbon&near=38.7,-9.1&{stay}"), 422, "near"),
        (&format!("near=38.7&{stay}"), 400, "near"),
        (&format!("near=95,0&{stay}"), 422, "near"),
        (
            &format!("near=38.7,-9.1&radius_km=0&{stay}"),
            422,
            "radius_km",
        ),
        (
            &format!("near=38.7,-9.1&radius_km=201&{stay}"),
            422,
            "radius_km",
        ),
        (
            "city=Lisbon&check_in=2026-11-01&check_out=2026-11-03",
            422,
            "check_in",
        ),
        (
            "city=Lisbon&check_in=2026-12-03&check_out=2026-12-01",
            422,
            "check_out",
        ),
        (
            "city=Lisbon&check_in=2026-12-01&check_out=2027-01-15",
            422,
            "check_out",
        ),
        (&format!("city=Lisbon&city=Porto&{stay}"), 400, "city"),
    ];
    for (query, status, field) in cases {
        let code = if *status == 400 {
            "invalid_request"
        } else {
            "validation_failed"
        };
        let reply = app.get(&format!("/api/v1/availability?{query}")).await;
        assert_eq!(reply.status.as_u16(), *status, "{query}: {}", reply.text);
        reply.assert_problem(*status, code, Some(field));
    }

    let one_hotel = format!("/api/v1/hotels/{hotel}/availability");
    app.get(&format!("{one_hotel}?check_in=soon&check_out=2026-12-03"))
        .await
        .assert_problem(400, "invalid_request", Some("check_in"));
    app.get(&format!("{one_hotel}?{stay}&guests=1&rooms=2"))
        .await
        .assert_problem(422, "validation_failed", Some("rooms"));
    let inventory = format!("/api/v1/hotels/{hotel}/inventory");
    app.get(&format!("{inventory}?from=2026-12-01"))
        .await
        .assert_problem(400, "invalid_request", Some("to"));
    app.get(&format!("{inventory}?from=2026-12-05&to=2026-12-01"))
        .await
        .assert_problem(422, "validation_failed", Some("to"));
    app.get("/api/v1/hotels?near=38.7,-9.1&radius_km=500")
        .await
        .assert_problem(422, "validation_failed", Some("radius_km"));
    app.get("/api/v1/hotels?limit=many").await.assert_problem(
        400,
        "invalid_request",
        Some("limit"),
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = app().await;
    let reply = app.get("/api/v1/nowhere").await;
    reply.assert_problem(404, "not_found", None);
    assert_eq!(reply.body["instance"], "/api/v1/nowhere");
    app.get("/api/v2/hotels")
        .await
        .assert_problem(404, "not_found", None);
    app.get("/api").await.assert_problem(404, "not_found", None);

    let reply = app.send(Method::DELETE, "/api/v1/hotels", &[], None).await;
    reply.assert_problem(405, "method_not_allowed", None);
    let allow = reply.header("allow");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_problem_without_details() {
    let router = router(crate::fakes::broken_upstream(), GatewaySettings::default());
    let request = Request::get(format!("/api/v1/hotels/{}", uuid_v4()))
        .body(Body::empty())
        .expect("request");
    let reply = call(&router, request).await;
    reply.assert_problem(500, "internal", None);
    assert!(
        !reply.text.contains("SELECT") && !reply.text.contains("panicked"),
        "{}",
        reply.text
    );

    let request = Request::get("/api/v1/hotels")
        .body(Body::empty())
        .expect("request");
    let reply = call(&router, request).await;
    reply.assert_problem(503, "unavailable", None);
    assert_eq!(reply.header("retry-after"), "1");
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_a_504_problem() {
    let settings = GatewaySettings {
        request_timeout: Duration::from_millis(50),
        clock: Arc::new(ManualClock::new(TODAY)),
        ..GatewaySettings::default()
    };
    let router = router(crate::fakes::broken_upstream(), settings);
    let uri = format!(
        "/api/v1/hotels/{}/availability?check_in=2026-12-01&check_out=2026-12-02",
        uuid_v4()
    );
    let reply = call(
        &router,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await;
    reply.assert_problem(504, "timeout", None);
}
