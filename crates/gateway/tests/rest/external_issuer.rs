//! An external issuer whose keys cannot be fetched over https: its tokens are answered with
//! 503 `unavailable` (retry later), never taken as anonymous and never accepted. (The accepted
//! path, over TLS with a private CA, is tested in `platform::auth`.)

use std::sync::Arc;

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Request;
use innkeeper_gateway::{GatewaySettings, Upstream, router};
use innkeeper_kernel::{Role, SystemClock};
use innkeeper_platform::auth::{AuthSettings, ExternalIssuerSettings, FnKeySource, Verifier};
use serde_json::json;

use crate::support::*;

const ISSUER: &str = "https://sso.test/realms/innkeeper";

/// A token of `ISSUER` naming a key it never published. Its signature is never looked at: the
/// verifier needs the issuer's keys first.
fn token() -> String {
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    format!(
        "{}.{}.{}",
        b64(json!({"alg": "RS256", "typ": "JWT", "kid": "kc-1"})),
        b64(
            json!({"iss": ISSUER, "aud": "innkeeper", "sub": "alice", "exp": now + 300,
                   "realm_access": {"roles": ["customer"]}})
        ),
        URL_SAFE_NO_PAD.encode([7u8; 256]),
    )
}

#[tokio::test]
async fn tokens_of_an_issuer_whose_https_keys_cannot_be_fetched_are_503_not_accepted() {
    // A plain-HTTP server behind an https:// URL: the TLS handshake fails, as it does for a
    // certificate nobody trusts.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("bound");
    let app = axum::Router::new().route(
        "/certs",
        axum::routing::get(|| async { axum::Json(json!({"keys": []})) }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let settings = AuthSettings {
        external: vec![ExternalIssuerSettings {
            issuer: ISSUER.into(),
            jwks_url: format!("https://{addr}/certs"),
            role_map: [("customer".to_owned(), Role::Guest)].into(),
            ..ExternalIssuerSettings::default()
        }],
        ..AuthSettings::default()
    };
    let local = FnKeySource::new(|| async { Ok(jsonwebtoken::jwk::JwkSet { keys: vec![] }) });
    let verifier = Verifier::from_settings(&settings, Arc::new(local), Arc::new(SystemClock))
        .expect("valid settings");
    let upstream = Upstream {
        verifier: Arc::new(verifier),
        ..crate::fakes::broken_upstream()
    };
    let router = router(upstream, GatewaySettings::default());

    let ping = |token: Option<String>| {
        let mut request = Request::get("/api/v1/ping");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::empty()).expect("request")
    };
    assert_eq!(call(&router, ping(None)).await.status, 200);
    for _ in 0..2 {
        let reply = call(&router, ping(Some(token()))).await;
        reply.assert_problem(503, "unavailable", None);
        assert_eq!(
            reply.body["detail"],
            "the issuer's signing keys cannot be fetched right now"
        );
        assert!(!reply.text.contains(&addr.to_string()), "{}", reply.text);
    }
    server.abort();
}
