//! Accounts and tokens through the REST edge: register, login, refresh rotation and reuse
//! detection, logout, `/me`, the issuer's documents, expiry and key rotation.

use http::{Method, StatusCode};
use innkeeper_identity::demo::DEMO_PASSWORD;
use serde_json::{Value, json};

use crate::support::*;

async fn login_pair(app: &TestApp, email: &str, password: &str) -> Reply {
    app.post(
        "/api/v1/auth/login",
        json!({"email": email, "password": password}),
    )
    .await
}

fn bearer(token: &Value) -> String {
    format!("Bearer {}", token.as_str().expect("a token"))
}

#[tokio::test]
async fn a_guest_registers_logs_in_reads_and_changes_their_profile() {
    let app = anonymous_app().await;
    let reply = app
        .post(
            "/api/v1/auth/register",
            json!({"email": " Maria@Example.COM ", "password": "correct horse battery 9",
                   "name": "Maria", "role": "guest"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["email"], "maria@example.com");
    assert_eq!(reply.body["role"], "guest");
    assert!(!reply.text.contains("correct horse"), "{}", reply.text);

    let again = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "maria@example.com", "password": "another good pass 7",
                   "name": "Maria", "role": "guest"}),
        )
        .await;
    again.assert_problem(409, "conflict", Some("email"));
    let weak = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "joao@example.com", "password": "short", "name": "J", "role": "hotelier"}),
        )
        .await;
    weak.assert_problem(422, "validation_failed", Some("password"));
    let admin = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "eve@example.com", "password": "correct horse battery 9",
                   "name": "Eve", "role": "admin"}),
        )
        .await;
    assert_eq!(admin.status.as_u16(), 422, "{}", admin.text);

    let pair = login_pair(&app, "MARIA@example.com", "correct horse battery 9").await;
    assert_eq!(pair.status, StatusCode::OK, "{}", pair.text);
    assert_eq!(pair.body["token_type"], "Bearer");
    assert_eq!(pair.body["expires_in"], 900);
    let auth = bearer(&pair.body["access_token"]);
    let me = app
        .send(Method::GET, "/api/v1/me", &[("authorization", &auth)], None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["email"], "maria@example.com");
    let etag = me.header("etag").to_owned();
    let changed = app
        .send(
            Method::PATCH,
            "/api/v1/me",
            &[("authorization", &auth), ("if-match", &etag)],
            Some(json!({"name": "Maria Silva"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.body["name"], "Maria Silva");
    let stale = app
        .send(
            Method::PATCH,
            "/api/v1/me",
            &[("authorization", &auth), ("if-match", &etag)],
            Some(json!({"name": "Old"})),
        )
        .await;
    stale.assert_problem(412, "version_mismatch", None);
    app.get("/api/v1/me")
        .await
        .assert_problem(401, "unauthenticated", None);
}

#[tokio::test]
async fn login_failures_look_the_same_whatever_was_wrong() {
    let app = anonymous_app().await;
    let unknown = login_pair(&app, "nobody@innkeeper.test", DEMO_PASSWORD).await;
    let wrong = login_pair(&app, "guest@innkeeper.test", "not the password 1").await;
    unknown.assert_problem(401, "unauthenticated", None);
    wrong.assert_problem(401, "unauthenticated", None);
    assert_eq!(unknown.body["detail"], wrong.body["detail"]);
}

#[tokio::test]
async fn a_refresh_token_works_once_and_its_reuse_ends_the_family() {
    let app = anonymous_app().await;
    let first = login_pair(&app, "guest@innkeeper.test", DEMO_PASSWORD).await;
    let r1 = first.body["refresh_token"].clone();
    let second = app
        .post("/api/v1/auth/refresh", json!({"refresh_token": r1}))
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let r2 = second.body["refresh_token"].clone();
    assert_ne!(r1, r2);

    // The spent token again: refused, and the whole family (r2 too) is revoked.
    app.post("/api/v1/auth/refresh", json!({"refresh_token": r1}))
        .await
        .assert_problem(401, "unauthenticated", None);
    app.post("/api/v1/auth/refresh", json!({"refresh_token": r2}))
        .await
        .assert_problem(401, "unauthenticated", None);
}

#[tokio::test]
async fn logout_revokes_the_refresh_family() {
    let app = anonymous_app().await;
    let pair = login_pair(&app, "guest@innkeeper.test", DEMO_PASSWORD).await;
    let auth = bearer(&pair.body["access_token"]);
    let refresh = pair.body["refresh_token"].clone();
    let reply = app
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            &[("authorization", &auth)],
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    app.post("/api/v1/auth/refresh", json!({"refresh_token": refresh}))
        .await
        .assert_problem(401, "unauthenticated", None);
    app.post("/api/v1/auth/logout", json!({}))
        .await
        .assert_problem(401, "unauthenticated", None);
}

#[tokio::test]
async fn access_tokens_expire_and_rotated_keys_verify_without_a_restart() {
    let app = anonymous_app().await;
    let pair = login_pair(&app, "guest@innkeeper.test", DEMO_PASSWORD).await;
    let old = bearer(&pair.body["access_token"]);
    let me = |auth: String| {
        let app = &app;
        async move {
            app.send(Method::GET, "/api/v1/me", &[("authorization", &auth)], None)
                .await
        }
    };
    assert_eq!(me(old.clone()).await.status, StatusCode::OK);

    // A new signing key: tokens signed by it verify at once (unknown kid: keys refetched),
    // and the old key's tokens still verify until they expire.
    let rotated = app.identity_service.rotate_keys().await.expect("rotate");
    let jwks = app.get("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.len() >= 2 && kids.contains(&rotated.kid.as_str()),
        "{kids:?}"
    );
    app.clock.advance(time::Duration::seconds(31));
    let fresh = login_pair(&app, "guest@innkeeper.test", DEMO_PASSWORD).await;
    let new = bearer(&fresh.body["access_token"]);
    assert_eq!(me(new.clone()).await.status, StatusCode::OK);
    assert_eq!(me(old.clone()).await.status, StatusCode::OK);

    // Past expiry (900 s) and the 30 s leeway: refused.
    app.clock.advance(time::Duration::seconds(900));
    me(old).await.assert_problem(401, "unauthenticated", None);
}

#[tokio::test]
async fn the_issuer_publishes_its_keys_and_discovery_document() {
    let app = anonymous_app().await;
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, StatusCode::OK, "{}", jwks.text);
    let key = &jwks.body["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(
        key.get("d").is_none(),
        "never the private part: {}",
        jwks.text
    );
    let discovery = app.get("/.well-known/openid-configuration").await;
    assert_eq!(discovery.status, StatusCode::OK, "{}", discovery.text);
    assert_eq!(discovery.body["issuer"], "http://127.0.0.1:8080");
    assert_eq!(
        discovery.body["jwks_uri"],
        "http://127.0.0.1:8080/.well-known/jwks.json"
    );
}

#[tokio::test]
async fn a_service_token_is_refused_by_the_public_api() {
    let app = app().await;
    let token = app
        .identity
        .issue_service_token(innkeeper_identity::api::ServiceTokenRequest {
            service: "booking".to_owned(),
            secret: SERVICE_SECRET.to_owned(),
        })
        .await
        .expect("a service token")
        .access_token;
    let service = app.acting_as(Some(token));
    for uri in [
        "/api/v1/me",
        "/api/v1/bookings",
        "/api/v1/hotels?city=Lisbon",
    ] {
        let reply = service.get(uri).await;
        reply.assert_problem(401, "unauthenticated", None);
        assert!(
            reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("service tokens")),
            "{uri}: {}",
            reply.body
        );
        assert_eq!(
            reply.header("www-authenticate"),
            "Bearer realm=\"innkeeper\""
        );
    }
}
