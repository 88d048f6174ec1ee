//! The catalog's resources through the API: create, read, change under If-Match, price.

use http::{Method, StatusCode};
use innkeeper_kernel::{Principal, Role, UserId};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn creating_a_hotel_answers_201_with_location_and_etag() {
    let app = app().await;
    let created = app.post("/api/v1/hotels", new_hotel("Casa Azul")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.header("etag"), "\"1\"");
    assert_eq!(created.header("content-type"), "application/json");
    let id = created.body["id"].as_str().expect("id");
    assert_eq!(created.header("location"), format!("/api/v1/hotels/{id}"));
    assert_eq!(
        created.body["owner_id"],
        json!(Principal::DEVELOPMENT.user_id)
    );

    let read = app.get(created.header("location")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.header("etag"), "\"1\"");
    assert_eq!(read.body["name"], "Casa Azul");
    assert_eq!(read.body["room_types"], json!([]));

    let listed = app.get("/api/v1/hotels?city=lisbon").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["items"][0]["id"], id);
    let elsewhere = app.get("/api/v1/hotels?city=Porto").await;
    assert_eq!(elsewhere.body["items"], json!([]));
}

#[tokio::test]
async fn patch_needs_a_current_if_match() {
    let app = app().await;
    let id = app.hotel("Casa Azul").await;
    let uri = format!("/api/v1/hotels/{id}");

    let missing = app
        .send(
            Method::PATCH,
            &uri,
            &[],
            Some(json!({"name": "Casa Verde"})),
        )
        .await;
    missing.assert_problem(428, "precondition_required", None);
    let stale = app
        .patch(&uri, "\"7\"", json!({"name": "Casa Verde"}))
        .await;
    stale.assert_problem(412, "version_mismatch", None);
    let garbage = app.patch(&uri, "*", json!({"name": "Casa Verde"})).await;
    garbage.assert_problem(400, "invalid_request", Some("If-Match"));
    assert_eq!(
        app.get(&uri).await.body["name"],
        "Casa Azul",
        "refused patches change nothing"
    );

    let good = app
        .patch(&uri, "\"1\"", json!({"name": "Casa Verde"}))
        .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text);
    assert_eq!(good.header("etag"), "\"2\"");
    assert_eq!(good.body["name"], "Casa Verde");
    let weak = app.patch(&uri, "W/\"2\"", json!({"stars": 5})).await;
    assert_eq!(
        (weak.status, weak.header("etag")),
        (StatusCode::OK, "\"3\""),
        "{}",
        weak.text
    );
    let bare = app.patch(&uri, "3", json!({"description": "Quiet"})).await;
    assert_eq!(
        (bare.status, bare.header("etag")),
        (StatusCode::OK, "\"4\""),
        "{}",
        bare.text
    );
    let read = app.get(&uri).await;
    assert_eq!(
        (read.header("etag"), &read.body["stars"], &read.body["name"]),
        ("\"4\"", &json!(5), &json!("Casa Verde"))
    );
}

#[tokio::test]
async fn another_hoteliers_hotel_is_not_found() {
    let app = app().await;
    let stranger = Principal {
        user_id: UserId::new(),
        role: Role::Hotelier,
    };
    let theirs = app
        .catalog
        .create_hotel(
            &stranger,
            serde_json::from_value(new_hotel("Not Yours")).expect("valid"),
        )
        .await
        .expect("created");
    let uri = format!("/api/v1/hotels/{}", theirs.id);
    assert_eq!(
        app.get(&uri).await.status,
        StatusCode::OK,
        "anyone may read a hotel"
    );
    app.patch(&uri, "\"1\"", json!({"name": "Mine now"}))
        .await
        .assert_problem(404, "not_found", None);
    app.get(&format!("{uri}/rooms"))
        .await
        .assert_problem(404, "not_found", None);
    let rt = app
        .post(
            &format!("{uri}/room-types"),
            json!({"name": "X", "capacity": 2, "base_price": {"amount": 1, "currency": "EUR"}}),
        )
        .await;
    rt.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn room_types_rooms_rates_and_inventory_make_priced_offers() {
    let app = app().await;
    let hotel = app.hotel("Casa Azul").await;
    let double = app.room_type(&hotel, "Double", 2, 10_000, 2).await;
    let suite = app.room_type(&hotel, "Family Suite", 4, 25_000, 1).await;

    // Room types show on the hotel; rooms are listed for the owner.
    let details = app.get(&format!("/api/v1/hotels/{hotel}")).await;
    assert_eq!(
        details.body["room_types"].as_array().map(Vec::len),
        Some(2),
        "{}",
        details.text
    );
    let rooms = app.get(&format!("/api/v1/hotels/{hotel}/rooms")).await;
    assert_eq!(
        rooms.body.as_array().map(Vec::len),
        Some(3),
        "{}",
        rooms.text
    );

    // A seasonal price on the first two nights of a three-night stay.
    let rates = app
        .put(
            &format!("/api/v1/hotels/{hotel}/room-types/{double}/rates"),
            json!({"from": "2026-12-01", "to": "2026-12-03", "price": {"amount": 15_000, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(rates.status, StatusCode::OK, "{}", rates.text);
    assert_eq!(rates.body["nights"], 2);

    // Only one double is sellable on the 2nd.
    let allot = app
        .put(
            &format!("/api/v1/hotels/{hotel}/room-types/{double}/inventory"),
            json!({"from": "2026-12-02", "to": "2026-12-03", "total": 1}),
        )
        .await;
    assert_eq!(allot.status, StatusCode::OK, "{}", allot.text);
    let inventory = app
        .get(&format!(
            "/api/v1/hotels/{hotel}/inventory?from=2026-12-01&to=2026-12-04"
        ))
        .await;
    assert_eq!(inventory.status, StatusCode::OK, "{}", inventory.text);
    let double_nights: Vec<_> = inventory
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter(|n| n["room_type_id"] == double)
        .collect();
    let totals: Vec<_> = double_nights
        .iter()
        .map(|n| (n["night"].as_str().unwrap_or_default(), n["total"].as_u64()))
        .collect();
    assert_eq!(
        totals,
        vec![
            ("2026-12-01", Some(2)),
            ("2026-12-02", Some(1)),
            ("2026-12-03", Some(2))
        ]
    );

    let offers = app
        .get("/api/v1/availability?city=Lisbon&check_in=2026-12-01&check_out=2026-12-04&guests=2")
        .await;
    assert_eq!(offers.status, StatusCode::OK, "{}", offers.text);
    let offers = offers.body.as_array().expect("offers").clone();
    assert_eq!(offers.len(), 2);
    let double_offer = &offers[0];
    assert_eq!(
        double_offer["room_type_id"],
        double.as_str(),
        "cheapest first"
    );
    let prices: Vec<_> = double_offer["nights"]
        .as_array()
        .expect("nights")
        .iter()
        .map(|n| n["price"]["amount"].as_i64())
        .collect();
    assert_eq!(prices, vec![Some(15_000), Some(15_000), Some(10_000)]);
    assert_eq!(
        double_offer["total"],
        json!({"amount": 40_000, "currency": "EUR"})
    );
    assert_eq!(double_offer["rooms_left"], 1);
    assert_eq!(offers[1]["total"]["amount"], 75_000);

    // Two rooms: the double is short on the 2nd; four guests fit in the suite only.
    let two_rooms = app.get("/api/v1/availability?city=Lisbon&check_in=2026-12-01&check_out=2026-12-04&guests=2&rooms=2").await;
    assert_eq!(two_rooms.body, json!([]), "{}", two_rooms.text);
    let family = app
        .get(&format!(
            "/api/v1/hotels/{hotel}/availability?check_in=2026-12-01&check_out=2026-12-02&guests=4"
        ))
        .await;
    assert_eq!(family.status, StatusCode::OK, "{}", family.text);
    let ids: Vec<_> = family
        .body
        .as_array()
        .expect("offers")
        .iter()
        .map(|o| o["room_type_id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(suite)]);
    let near = app.get("/api/v1/availability?near=38.71,-9.14&radius_km=5&check_in=2026-12-01&check_out=2026-12-02&sort=distance").await;
    assert_eq!(near.status, StatusCode::OK, "{}", near.text);
    assert!(
        near.body[0]["hotel"]["distance_km"]
            .as_f64()
            .is_some_and(|d| d < 5.0),
        "{}",
        near.text
    );
    let cheap = app.get("/api/v1/availability?city=Lisbon&check_in=2026-12-03&check_out=2026-12-04&max_price=10000").await;
    assert_eq!(
        cheap.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        cheap.text
    );
}

#[tokio::test]
async fn room_types_and_rooms_change_under_if_match() {
    let app = app().await;
    let hotel = app.hotel("Casa Azul").await;
    let rt = app.room_type(&hotel, "Double", 2, 10_000, 1).await;
    let rt_uri = format!("/api/v1/hotels/{hotel}/room-types/{rt}");
    let changed = app.patch(&rt_uri, "\"1\"", json!({"capacity": 3})).await;
    assert_eq!(
        (changed.status, changed.header("etag")),
        (StatusCode::OK, "\"2\""),
        "{}",
        changed.text
    );
    assert_eq!(changed.body["capacity"], 3);
    app.patch(&rt_uri, "\"1\"", json!({"capacity": 4}))
        .await
        .assert_problem(412, "version_mismatch", None);
    app.send(Method::PATCH, &rt_uri, &[], Some(json!({"capacity": 4})))
        .await
        .assert_problem(428, "precondition_required", None);

    let rooms = app.get(&format!("/api/v1/hotels/{hotel}/rooms")).await;
    let room = rooms.body[0]["id"].as_str().expect("room id").to_owned();
    let room_uri = format!("/api/v1/hotels/{hotel}/rooms/{room}");
    let dirty = app
        .patch(&room_uri, "\"1\"", json!({"status": "out_of_service"}))
        .await;
    assert_eq!(
        (dirty.status, dirty.header("etag")),
        (StatusCode::OK, "\"2\""),
        "{}",
        dirty.text
    );
    assert_eq!(dirty.body["status"], "out_of_service");
    let bad = app
        .patch(&room_uri, "\"2\"", json!({"status": "haunted"}))
        .await;
    bad.assert_problem(422, "validation_failed", Some("status"));

    let duplicate = app
        .post(
            &format!("/api/v1/hotels/{hotel}/rooms"),
            json!({"number": "601", "floor": 1, "room_type_id": rt}),
        )
        .await;
    duplicate.assert_problem(409, "conflict", None);
    let location = app
        .post(
            &format!("/api/v1/hotels/{hotel}/rooms"),
            json!({"number": "7", "floor": 0, "room_type_id": rt}),
        )
        .await;
    assert!(
        location
            .header("location")
            .starts_with(&format!("/api/v1/hotels/{hotel}/rooms/")),
        "{:?}",
        location.headers
    );
}
