//! How often a request's token is verified in the embedded shape: once, by the gateway; the
//! services in the same process are handed the principal. A token seen again is answered from
//! the verifier's cache of verified tokens until it expires.

use http::{Method, StatusCode};

use crate::support::*;

#[tokio::test]
async fn a_request_is_verified_once_and_a_token_seen_again_not_at_all() {
    let app = app().await;
    assert_eq!(
        app.verifier.verifications(),
        0,
        "logging in verifies nothing"
    );
    // Identity (`/me`) and the catalog (creating a hotel) both act for the caller.
    let me = app.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(app.verifier.verifications(), 1);
    let hotel = app.hotel("Casa Verificada").await;
    let listed = app.get(&format!("/api/v1/hotels/{hotel}")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(
        app.verifier.verifications(),
        1,
        "the same token: from the cache"
    );

    // Another caller's token: one more verification, whatever the request reaches.
    let guest = app.acting_as(Some(app.login("guest@innkeeper.test").await));
    assert_eq!(guest.get("/api/v1/me").await.status, StatusCode::OK);
    assert_eq!(app.verifier.verifications(), 2);

    // The cache never outlives the token: past exp and the leeway, refused.
    app.clock.advance(time::Duration::seconds(900 + 31));
    app.send(Method::GET, "/api/v1/me", &[], None)
        .await
        .assert_problem(401, "unauthenticated", None);
}
