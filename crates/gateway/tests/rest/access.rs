//! The access matrices: every catalog and booking endpoint x every kind of caller, with the status each cell
//! must answer. Objects of another hotelier answer 404 (they do not exist for you), a guest's
//! attempt to manage hotels 403, a request without a token 401.
//!
//! To extend it (bookings, payments), add rows to `rows()`: a request builder and the expected
//! status per caller.

use http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Guest,
    Owner,
    OtherHotelier,
    Admin,
}

const EVERYONE: [Who; 5] = [
    Who::Anonymous,
    Who::Guest,
    Who::Owner,
    Who::OtherHotelier,
    Who::Admin,
];

/// One endpoint: how to call it on the fixture, and the status for each caller in `EVERYONE`
/// order.
struct Row {
    name: &'static str,
    method: Method,
    uri: String,
    body: Option<Value>,
    /// Sends `If-Match` with the object's current version, read just before the call.
    versioned: Option<String>,
    expected: [u16; 5],
}

/// The fixture: a hotel of the demo hotelier with one room type and one room.
struct Fixture {
    hotel: String,
    room_type: String,
    room: String,
}

fn rows(f: &Fixture) -> Vec<Row> {
    let (h, rt, room) = (&f.hotel, &f.room_type, &f.room);
    let read = [200, 200, 200, 200, 200];
    let create = [401, 403, 201, 201, 201];
    let manage = [401, 403, 200, 404, 200];
    let manage_create = [401, 403, 201, 404, 201];
    let row =
        |name, method, uri: String, body: Option<Value>, versioned: Option<String>, expected| Row {
            name,
            method,
            uri,
            body,
            versioned,
            expected,
        };
    vec![
        row(
            "list hotels",
            Method::GET,
            "/api/v1/hotels?city=Lisbon".into(),
            None,
            None,
            read,
        ),
        row(
            "open a hotel",
            Method::POST,
            "/api/v1/hotels".into(),
            Some(new_hotel("Another")),
            None,
            create,
        ),
        row(
            "read a hotel",
            Method::GET,
            format!("/api/v1/hotels/{h}"),
            None,
            None,
            read,
        ),
        row(
            "change a hotel",
            Method::PATCH,
            format!("/api/v1/hotels/{h}"),
            Some(json!({"description": "Changed"})),
            Some(format!("/api/v1/hotels/{h}")),
            manage,
        ),
        row(
            "add a room type",
            Method::POST,
            format!("/api/v1/hotels/{h}/room-types"),
            Some(
                json!({"name": "Suite", "capacity": 2, "beds": [{"kind": "king", "count": 1}],
                        "amenities": [], "base_price": {"amount": 20_000, "currency": "EUR"}}),
            ),
            None,
            manage_create,
        ),
        row(
            "change a room type",
            Method::PATCH,
            format!("/api/v1/hotels/{h}/room-types/{rt}"),
            Some(json!({"description": "Changed"})),
            Some(format!("room-type:{h}:{rt}")),
            manage,
        ),
        row(
            "list rooms",
            Method::GET,
            format!("/api/v1/hotels/{h}/rooms"),
            None,
            None,
            manage,
        ),
        row(
            "add a room",
            Method::POST,
            format!("/api/v1/hotels/{h}/rooms"),
            Some(json!({"number": "9__N__", "floor": 9, "room_type_id": rt})),
            None,
            manage_create,
        ),
        row(
            "change a room",
            Method::PATCH,
            format!("/api/v1/hotels/{h}/rooms/{room}"),
            Some(json!({"floor": 2})),
            Some(format!("room:{h}:{room}")),
            manage,
        ),
        row(
            "set rates",
            Method::PUT,
            format!("/api/v1/hotels/{h}/room-types/{rt}/rates"),
            Some(
                json!({"from": "2026-12-01", "to": "2026-12-03", "price": {"amount": 15_000, "currency": "EUR"}}),
            ),
            None,
            manage,
        ),
        row(
            "set inventory",
            Method::PUT,
            format!("/api/v1/hotels/{h}/room-types/{rt}/inventory"),
            Some(json!({"from": "2026-12-01", "to": "2026-12-03", "total": 1})),
            None,
            manage,
        ),
        row(
            "read inventory",
            Method::GET,
            format!("/api/v1/hotels/{h}/inventory?from=2026-12-01&to=2026-12-04"),
            None,
            None,
            manage,
        ),
        row(
            "search",
            Method::GET,
            "/api/v1/availability?city=Lisbon&check_in=2026-12-01&check_out=2026-12-03&guests=2"
                .into(),
            None,
            None,
            read,
        ),
        row(
            "hotel availability",
            Method::GET,
            format!(
                "/api/v1/hotels/{h}/availability?check_in=2026-12-01&check_out=2026-12-03&guests=2"
            ),
            None,
            None,
            read,
        ),
    ]
}

/// The current version of the object a versioned row changes, read as the owner.
async fn current_version(owner: &TestApp, what: &str) -> String {
    let parts: Vec<&str> = what.split(':').collect();
    let version = match parts.as_slice() {
        ["room-type", h, rt] => {
            let hotel = owner.get(&format!("/api/v1/hotels/{h}")).await;
            hotel.body["room_types"]
                .as_array()
                .and_then(|rts| rts.iter().find(|r| r["id"] == *rt))
                .map(|r| r["version"].clone())
        }
        ["room", h, room] => {
            let rooms = owner.get(&format!("/api/v1/hotels/{h}/rooms")).await;
            rooms
                .body
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["id"] == *room))
                .map(|r| r["version"].clone())
        }
        _ => return owner.get(what).await.header("etag").to_owned(),
    };
    format!("\"{}\"", version.expect("a version"))
}

#[tokio::test]
async fn every_catalog_endpoint_answers_each_caller_as_the_role_rules_say() {
    let owner = app().await;
    let hotel = owner.hotel("Casa Matrix").await;
    let room_type = owner.room_type(&hotel, "Double", 2, 10_000, 1).await;
    let rooms = owner.get(&format!("/api/v1/hotels/{hotel}/rooms")).await;
    let room = rooms.body[0]["id"].as_str().expect("a room").to_owned();
    let fixture = Fixture {
        hotel,
        room_type,
        room,
    };
    let callers = [
        owner.acting_as(None),
        owner.acting_as(Some(owner.login("guest@innkeeper.test").await)),
        owner.acting_as(owner.token.clone()),
        owner.acting_as(Some(owner.login("hotelier2@innkeeper.test").await)),
        owner.acting_as(Some(owner.login(ADMIN_EMAIL).await)),
    ];

    let mut wrong = Vec::new();
    let mut cells = 0;
    for row in rows(&fixture) {
        for (who, caller) in EVERYONE.iter().zip(&callers) {
            let mut headers = Vec::new();
            let if_match = match &row.versioned {
                Some(what) => Some(current_version(&owner, what).await),
                None => None,
            };
            if let Some(v) = &if_match {
                headers.push(("if-match", v.as_str()));
            }
            // Bodies that create unique things (room numbers) differ per cell.
            let body = row.body.as_ref().map(|b| {
                serde_json::from_str(&b.to_string().replace("__N__", &cells.to_string()))
                    .expect("JSON")
            });
            let reply = caller
                .send(row.method.clone(), &row.uri, &headers, body)
                .await;
            cells += 1;
            let expected = row.expected[EVERYONE.iter().position(|w| w == who).unwrap_or(0)];
            if reply.status.as_u16() != expected {
                wrong.push(format!(
                    "{} as {who:?}: expected {expected}, got {} {}",
                    row.name, reply.status, reply.text
                ));
            }
            // A refusal says nothing about the object.
            if reply.status.as_u16() >= 400 {
                assert_eq!(reply.header("content-type"), "application/problem+json");
                assert!(
                    !reply.text.contains("Casa Matrix") && !reply.text.contains("\"owner_id\""),
                    "{} as {who:?} leaks: {}",
                    row.name,
                    reply.text
                );
            }
            if reply.status.as_u16() == 401 {
                assert!(reply.header("www-authenticate").starts_with("Bearer"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(cells, 14 * 5);
}

#[tokio::test]
async fn a_bad_token_is_refused_even_on_public_endpoints() {
    let app = anonymous_app().await;
    for bad in [
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer a.b.c",
    ] {
        let reply = app
            .send(
                Method::GET,
                "/api/v1/hotels",
                &[("authorization", bad)],
                None,
            )
            .await;
        reply.assert_problem(401, "unauthenticated", None);
        assert!(
            reply.header("www-authenticate").starts_with("Bearer"),
            "{bad}"
        );
    }
}

/// A row of the booking matrix: name, method, URI, body, `If-Match`, and the status per caller
/// in `EVERYONE` order.
type BookingRow = (
    &'static str,
    Method,
    String,
    Option<Value>,
    Option<&'static str>,
    [u16; 5],
);

#[tokio::test]
async fn every_booking_endpoint_answers_each_caller_as_the_role_rules_say() {
    let owner = app().await;
    let hotel = owner.hotel("Casa Matrix").await;
    let room_type = owner.room_type(&hotel, "Double", 2, 10_000, 4).await;
    let callers = [
        owner.acting_as(None),
        owner.acting_as(Some(owner.login("guest@innkeeper.test").await)),
        owner.acting_as(owner.token.clone()),
        owner.acting_as(Some(owner.login("hotelier2@innkeeper.test").await)),
        owner.acting_as(Some(owner.login(ADMIN_EMAIL).await)),
    ];
    let request = json!({
        "hotel_id": hotel, "room_type_id": room_type, "check_in": "2026-12-10",
        "check_out": "2026-12-12", "guests": 2, "guest_name": "Gabriela Guest",
    });
    // The demo guest's booking every read row reads.
    let booked = callers[1].post("/api/v1/bookings", request.clone()).await;
    assert_eq!(booked.status.as_u16(), 201, "{}", booked.text);
    let id = booked.body["id"].as_str().expect("id").to_owned();
    let reference = booked.body["reference"].as_str().expect("ref").to_owned();

    let see = [401, 200, 200, 404, 200];
    let rows: Vec<BookingRow> = vec![
        (
            "book",
            Method::POST,
            "/api/v1/bookings".into(),
            Some(request),
            None,
            [401, 201, 403, 403, 403],
        ),
        (
            "list own bookings",
            Method::GET,
            "/api/v1/bookings".into(),
            None,
            None,
            [401, 200, 422, 422, 200],
        ),
        (
            "list a hotel's bookings",
            Method::GET,
            format!("/api/v1/bookings?hotel_id={hotel}"),
            None,
            None,
            [401, 403, 200, 404, 200],
        ),
        (
            "read a booking",
            Method::GET,
            format!("/api/v1/bookings/{id}"),
            None,
            None,
            see,
        ),
        (
            "read a booking by reference",
            Method::GET,
            format!("/api/v1/bookings/reference/{reference}"),
            None,
            None,
            see,
        ),
        (
            "read a booking's history",
            Method::GET,
            format!("/api/v1/bookings/{id}/history"),
            None,
            None,
            see,
        ),
        (
            // A stale If-Match: the rules are checked without cancelling anything.
            "cancel a booking",
            Method::POST,
            format!("/api/v1/bookings/{id}/cancel"),
            Some(json!({})),
            Some("\"99\""),
            [401, 412, 412, 404, 412],
        ),
    ];
    let mut wrong = Vec::new();
    let mut cells = 0;
    for (name, method, uri, body, if_match, expected) in rows {
        for ((who, caller), expected) in EVERYONE.iter().zip(&callers).zip(expected) {
            let headers: Vec<(&str, &str)> =
                if_match.map(|v| ("if-match", v)).into_iter().collect();
            let reply = caller
                .send(method.clone(), &uri, &headers, body.clone())
                .await;
            cells += 1;
            if reply.status.as_u16() != expected {
                wrong.push(format!(
                    "{name} as {who:?}: expected {expected}, got {} {}",
                    reply.status, reply.text
                ));
            }
            if reply.status.as_u16() >= 400 {
                assert_eq!(reply.header("content-type"), "application/problem+json");
                assert!(
                    !reply.text.contains("Gabriela"),
                    "{name} as {who:?} leaks: {}",
                    reply.text
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(cells, 7 * 5);
}
