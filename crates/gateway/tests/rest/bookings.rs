//! `/bookings` over the real booking service: create, read, list, replay, cancel, history,
//! and who may do what.

use http::{Method, StatusCode};
use innkeeper_identity::demo::DEMO_GUEST;
use serde_json::{Value, json};

use crate::support::*;

/// A hotel (of the demo hotelier) with one room of one type; the app acting as the demo guest,
/// and the room type's booking request.
async fn one_room() -> (TestApp, TestApp, Value) {
    let hotelier = app().await;
    let hotel = hotelier.hotel("Casa Azul").await;
    let room_type = hotelier.room_type(&hotel, "Double", 2, 10_000, 1).await;
    let guest = hotelier.acting_as(Some(hotelier.login(DEMO_GUEST.email).await));
    let request = json!({
        "hotel_id": hotel,
        "room_type_id": room_type,
        "check_in": "2026-12-10",
        "check_out": "2026-12-12",
        "guests": 2,
        "guest_name": "Gabriela Guest",
    });
    (hotelier, guest, request)
}

#[tokio::test]
async fn a_guest_books_reads_lists_and_sees_the_history() {
    let (_hotelier, guest, request) = one_room().await;
    let created = guest.post("/api/v1/bookings", request).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["status"], "pending_payment");
    assert_eq!(created.body["price"]["total"]["amount"], 20_000);
    assert_eq!(created.header("etag"), "\"1\"");
    assert_eq!(created.header("idempotency-replayed"), "");
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.header("location"), format!("/api/v1/bookings/{id}"));

    let read = guest.get(&format!("/api/v1/bookings/{id}")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.body, created.body);
    assert_eq!(read.header("etag"), "\"1\"");

    let reference = created.body["reference"].as_str().expect("reference");
    let by_reference = guest
        .get(&format!("/api/v1/bookings/reference/{reference}"))
        .await;
    assert_eq!(by_reference.status, StatusCode::OK, "{}", by_reference.text);
    assert_eq!(by_reference.body["id"], id.as_str());

    let mine = guest.get("/api/v1/bookings").await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    let ids: Vec<&Value> = mine.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|b| &b["id"])
        .collect();
    assert_eq!(ids, vec![&json!(id)], "{}", mine.text);

    let history = guest.get(&format!("/api/v1/bookings/{id}/history")).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text);
    assert_eq!(history.body[0]["type"], "created", "{}", history.text);
    assert_eq!(history.body[0]["version"], 1);

    guest
        .get("/api/v1/bookings/not-a-uuid")
        .await
        .assert_problem(400, "invalid_request", Some("id"));
    guest
        .get("/api/v1/bookings?status=dreaming")
        .await
        .assert_problem(422, "validation_failed", Some("status"));
}

#[tokio::test]
async fn the_last_room_sells_once_and_then_the_stay_is_sold_out() {
    let (_hotelier, guest, request) = one_room().await;
    let first = guest.post("/api/v1/bookings", request.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    guest
        .post("/api/v1/bookings", request)
        .await
        .assert_problem(409, "sold_out", None);
}

#[tokio::test]
async fn a_repeated_idempotency_key_replays_the_first_answer() {
    let (_hotelier, guest, request) = one_room().await;
    let key = [("idempotency-key", "book-once-1")];
    let first = guest
        .send(
            Method::POST,
            "/api/v1/bookings",
            &key,
            Some(request.clone()),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.header("idempotency-replayed"), "");
    let again = guest
        .send(
            Method::POST,
            "/api/v1/bookings",
            &key,
            Some(request.clone()),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.header("idempotency-replayed"), "true");
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("etag"), first.header("etag"));

    // The same key with another request is refused; a bad key names the header.
    let mut other = request;
    other["guests"] = json!(1);
    let reused = guest
        .send(Method::POST, "/api/v1/bookings", &key, Some(other.clone()))
        .await;
    reused.assert_problem(422, "validation_failed", None);
    guest
        .send(
            Method::POST,
            "/api/v1/bookings",
            &[("idempotency-key", "")],
            Some(other),
        )
        .await
        .assert_problem(422, "validation_failed", Some("Idempotency-Key"));
}

#[tokio::test]
async fn another_guests_booking_does_not_exist_for_them() {
    let (hotelier, guest, request) = one_room().await;
    let created = guest.post("/api/v1/bookings", request).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().expect("id");

    let registered = hotelier
        .acting_as(None)
        .post(
            "/api/v1/auth/register",
            json!({"email": "other@example.test", "password": "correct horse battery 9",
                   "name": "Otto", "role": "guest"}),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let other = hotelier.acting_as(Some(
        hotelier
            .login_with("other@example.test", "correct horse battery 9")
            .await,
    ));
    other
        .get(&format!("/api/v1/bookings/{id}"))
        .await
        .assert_problem(404, "not_found", None);
    other
        .post(&format!("/api/v1/bookings/{id}/cancel"), json!({}))
        .await
        .assert_problem(404, "not_found", None);
    let theirs = other.get("/api/v1/bookings").await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
    assert_eq!(theirs.body["items"], json!([]), "{}", theirs.text);

    // The hotel's owner sees it in the hotel's list.
    let hotel = created.body["hotel_id"].as_str().expect("hotel");
    let listed = hotelier
        .get(&format!("/api/v1/bookings?hotel_id={hotel}"))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["items"][0]["id"], id, "{}", listed.text);
}

#[tokio::test]
async fn hoteliers_do_not_book_and_anonymous_callers_are_refused() {
    let (hotelier, _guest, request) = one_room().await;
    hotelier
        .post("/api/v1/bookings", request.clone())
        .await
        .assert_problem(403, "forbidden", None);
    hotelier
        .acting_as(None)
        .post("/api/v1/bookings", request)
        .await
        .assert_problem(401, "unauthenticated", None);
}

#[tokio::test]
async fn a_guest_cancels_and_the_refund_and_room_come_back() {
    let (_hotelier, guest, request) = one_room().await;
    let created = guest.post("/api/v1/bookings", request.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().expect("id");

    guest
        .send(
            Method::POST,
            &format!("/api/v1/bookings/{id}/cancel"),
            &[("if-match", "\"7\"")],
            None,
        )
        .await
        .assert_problem(412, "version_mismatch", None);
    let cancelled = guest
        .send(
            Method::POST,
            &format!("/api/v1/bookings/{id}/cancel"),
            &[("if-match", "\"1\"")],
            Some(json!({"reason": "plans changed"})),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.header("etag"), "\"2\"");
    assert_eq!(
        cancelled.body["refund"],
        json!({"amount": {"amount": 0, "currency": "EUR"}, "rule": "nothing_paid"}),
        "{}",
        cancelled.text
    );

    // A second cancellation is refused; the room is sellable again.
    let again = guest
        .post(&format!("/api/v1/bookings/{id}/cancel"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let rebooked = guest.post("/api/v1/bookings", request).await;
    assert_eq!(rebooked.status, StatusCode::CREATED, "{}", rebooked.text);
}

#[tokio::test]
async fn a_guest_changes_the_stay_only_with_the_current_etag() {
    let (hotelier, guest, request) = one_room().await;
    // The new stay is held before the old one is given back: a second room makes that possible.
    let hotel = request["hotel_id"].as_str().expect("hotel");
    let room = hotelier
        .post(
            &format!("/api/v1/hotels/{hotel}/rooms"),
            json!({"number": "699", "floor": 6, "room_type_id": request["room_type_id"]}),
        )
        .await;
    assert_eq!(room.status, StatusCode::CREATED, "{}", room.text);
    let created = guest.post("/api/v1/bookings", request).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let uri = format!(
        "/api/v1/bookings/{}",
        created.body["id"].as_str().expect("id")
    );
    let longer = json!({"check_out": "2026-12-13"});

    guest
        .send(Method::PATCH, &uri, &[], Some(longer.clone()))
        .await
        .assert_problem(428, "precondition_required", None);
    guest
        .patch(&uri, "\"5\"", longer.clone())
        .await
        .assert_problem(412, "version_mismatch", None);
    let changed = guest.patch(&uri, "\"1\"", longer).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.header("etag"), "\"2\"");
    assert_eq!(
        changed.body["stay"]["check_out"], "2026-12-13",
        "{}",
        changed.text
    );
    assert_eq!(changed.body["price"]["total"]["amount"], 30_000);
}

#[tokio::test]
async fn the_hotel_upgrades_a_booking_and_the_front_desk_needs_a_paid_one() {
    let (hotelier, guest, request) = one_room().await;
    let hotel = request["hotel_id"].as_str().expect("hotel").to_owned();
    let suite = hotelier.room_type(&hotel, "Suite", 2, 25_000, 1).await;
    let created = guest.post("/api/v1/bookings", request.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().expect("id");

    let upgraded = hotelier
        .post(
            &format!("/api/v1/bookings/{id}/upgrade"),
            json!({"room_type_id": suite}),
        )
        .await;
    assert_eq!(upgraded.status, StatusCode::OK, "{}", upgraded.text);
    assert_eq!(upgraded.body["room_type_id"], suite.as_str());
    assert_eq!(
        upgraded.body["upgrade"],
        json!({"from_room_type_id": request["room_type_id"], "price_rule": "complimentary"})
    );
    assert_eq!(
        upgraded.body["price"]["total"],
        created.body["price"]["total"]
    );
    assert_eq!(upgraded.header("etag"), "\"2\"");

    // Unpaid (and before the day): nobody is checked in, out, or marked a no-show.
    for action in ["check-in", "check-out", "no-show"] {
        let reply = hotelier
            .post(&format!("/api/v1/bookings/{id}/{action}"), json!({}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CONFLICT,
            "{action}: {}",
            reply.text
        );
    }
    // The guest cannot use the front desk at all.
    let reply = guest
        .post(&format!("/api/v1/bookings/{id}/no-show"), json!({}))
        .await;
    assert_eq!(reply.status.as_u16(), 403, "{}", reply.text);
}

#[tokio::test]
async fn payments_answer_503_on_a_node_without_the_payment_service() {
    let (_hotelier, guest, _) = one_room().await;
    let reply = guest.get(&format!("/api/v1/payments/{}", uuid_v4())).await;
    reply.assert_problem(503, "unavailable", None);
    assert_eq!(reply.header("retry-after"), "1");
    let reply = guest.get("/api/v1/payments/not-a-uuid").await;
    reply.assert_problem(400, "invalid_request", Some("id"));
    let anonymous = anonymous_app().await;
    let reply = anonymous
        .get(&format!("/api/v1/payments/{}", uuid_v4()))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
}

#[tokio::test]
async fn a_booking_made_without_a_payment_service_awaits_payment_without_a_link() {
    let (_hotelier, guest, request) = one_room().await;
    let created = guest.post("/api/v1/bookings", request).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(
        created.body["payment"],
        json!({"status": "awaiting_payment"}),
        "{}",
        created.text
    );
}

#[tokio::test]
async fn the_checkout_returns_the_guest_to_a_page_that_says_what_happened() {
    let app = anonymous_app().await;
    let id = uuid_v4();
    for (status, says) in [
        ("succeeded", "Payment received"),
        ("failed", "Payment declined"),
        ("processing", "Payment processing"),
    ] {
        let page = app
            .get(&format!(
                "/bookings/{id}?payment_intent=pi_1&redirect_status={status}"
            ))
            .await;
        assert_eq!(page.status.as_u16(), 200, "{}", page.text);
        assert!(page.header("content-type").starts_with("text/html"));
        assert!(page.text.contains(says), "{status}: {}", page.text);
        assert!(page.text.contains(&id), "{}", page.text);
    }
    // Nothing echoed but a parsed id: anything else is not a booking.
    let page = app.get("/bookings/%3Cscript%3E").await;
    assert_eq!(page.status.as_u16(), 404);
    assert!(!page.text.contains("<script>"), "{}", page.text);
}
