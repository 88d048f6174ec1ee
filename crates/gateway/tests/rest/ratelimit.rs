//! The rate limiter as wired into the gateway router: a 429 problem document with
//! `Retry-After`, under the configured quota; off when disabled; and keyed by the client IP
//! that trusted proxies name, while nobody else can choose their bucket with a header.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::Request;
use innkeeper_gateway::client_ip::ClientIp;
use innkeeper_gateway::{
    ClientIpHeader, GatewaySettings, RateLimitSettings, TrustedProxies, router,
};
use tower::ServiceExt as _;

use crate::support::*;

fn settings(enabled: bool) -> GatewaySettings {
    GatewaySettings {
        rate_limit: RateLimitSettings {
            enabled,
            per_second: 1,
            burst: 2,
            auth_per_minute: 1,
            auth_burst: 1,
        },
        ..GatewaySettings::default()
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn over_the_quota_the_gateway_answers_429_problems_with_retry_after() {
    let router = router(crate::fakes::broken_upstream(), settings(true));
    // The broken catalog answers 503; the limiter counts every request all the same.
    for _ in 0..2 {
        call(&router, get("/api/v1/hotels"))
            .await
            .assert_problem(503, "unavailable", None);
    }
    let reply = call(&router, get("/api/v1/hotels")).await;
    reply.assert_problem(429, "rate_limited", None);
    assert_eq!(reply.body["instance"], "/api/v1/hotels");
    let retry: u64 = reply.header("retry-after").parse().expect("whole seconds");
    assert!((1..=2).contains(&retry), "{retry}");

    // `/auth` has its own, stricter bucket.
    call(&router, get("/api/v1/auth/login"))
        .await
        .assert_problem(405, "method_not_allowed", None);
    let reply = call(&router, get("/api/v1/auth/login")).await;
    reply.assert_problem(429, "rate_limited", None);
    let retry: u64 = reply.header("retry-after").parse().expect("whole seconds");
    assert!((59..=60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn a_disabled_limiter_never_refuses() {
    let router = router(crate::fakes::broken_upstream(), settings(false));
    for _ in 0..10 {
        call(&router, get("/api/v1/hotels"))
            .await
            .assert_problem(503, "unavailable", None);
    }
}

/// A gateway with a quota of two requests at once, trusting proxies in 10.0.0.0/8 and
/// 192.0.2.10.
fn behind_proxies(header: ClientIpHeader) -> Router {
    let proxies = vec!["10.0.0.0/8".to_owned(), "192.0.2.10".to_owned()];
    let settings = GatewaySettings {
        trusted_proxies: TrustedProxies::try_from(proxies).expect("valid networks"),
        client_ip_header: header,
        ..settings(true)
    };
    router(crate::fakes::broken_upstream(), settings)
}

/// `GET /api/v1/hotels` from the TCP peer `peer` with the header `name: value`, if any.
fn from(peer: &str, header: Option<(&str, &str)>) -> Request<Body> {
    let mut request = Request::get("/api/v1/hotels");
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let mut request = request.body(Body::empty()).expect("request");
    let peer: SocketAddr = peer.parse().expect("an address");
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

fn xff(value: &str) -> Option<(&'static str, &str)> {
    Some(("x-forwarded-for", value))
}

/// The status of each request, in order.
async fn statuses(router: &Router, requests: Vec<Request<Body>>) -> Vec<u16> {
    let mut out = Vec::new();
    for request in requests {
        out.push(call(router, request).await.status.as_u16());
    }
    out
}

#[tokio::test]
async fn a_spoofed_forwarding_header_does_not_change_the_bucket_of_an_untrusted_peer() {
    let router = behind_proxies(ClientIpHeader::XForwardedFor);
    // A new made-up client on every request: still one bucket, the peer's.
    let spoofed = (0..3)
        .map(|i| from("198.51.100.7:5000", xff(&format!("203.0.113.{i}"))))
        .collect();
    assert_eq!(statuses(&router, spoofed).await, [503, 503, 429]);
    assert_eq!(
        statuses(&router, vec![from("198.51.100.7:6000", None)]).await,
        [429]
    );
    // The Forwarded header, not configured, is no way round it either.
    let forwarded = Some(("forwarded", "for=203.0.113.50"));
    assert_eq!(
        statuses(&router, vec![from("198.51.100.7:5000", forwarded)]).await,
        [429]
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_it_names_has_its_own_bucket() {
    let router = behind_proxies(ClientIpHeader::XForwardedFor);
    let alice = || from("10.1.0.1:5000", xff("203.0.113.1"));
    assert_eq!(
        statuses(&router, vec![alice(), alice(), alice()]).await,
        [503, 503, 429]
    );
    // Bob, through the same proxy, is counted apart.
    let bob = || from("10.1.0.1:5000", xff("203.0.113.2"));
    assert_eq!(statuses(&router, vec![bob(), bob()]).await, [503, 503]);
    // Alice again, with a spoofed entry of her own on the left and a second trusted proxy on
    // the right, and through another proxy of the trusted set: still her bucket.
    let requests = vec![
        from("10.1.0.1:5000", xff("198.51.100.99, 203.0.113.1, 10.2.0.2")),
        from("192.0.2.10:7000", xff("203.0.113.1")),
    ];
    assert_eq!(statuses(&router, requests).await, [429, 429]);
    // The proxy's own bucket is untouched by its clients.
    assert_eq!(
        statuses(&router, vec![from("10.1.0.1:5000", None)]).await,
        [503]
    );
}

#[tokio::test]
async fn a_malformed_forwarding_header_counts_against_the_proxy_itself() {
    let router = behind_proxies(ClientIpHeader::XForwardedFor);
    let requests = vec![
        from("10.1.0.1:5000", xff("not-an-ip")),
        from("10.1.0.1:5000", xff("203.0.113.1, unknown")),
        from("10.1.0.1:5000", xff("")),
    ];
    assert_eq!(statuses(&router, requests).await, [503, 503, 429]);
    assert_eq!(
        statuses(&router, vec![from("10.1.0.1:5000", None)]).await,
        [429]
    );
    // A well-formed one still names its client.
    assert_eq!(
        statuses(&router, vec![from("10.1.0.1:5000", xff("203.0.113.1"))]).await,
        [503]
    );
}

#[tokio::test]
async fn the_forwarded_header_when_configured() {
    let router = behind_proxies(ClientIpHeader::Forwarded);
    let carol = || {
        from(
            "10.1.0.1:5000",
            Some(("forwarded", "for=\"[2001:db8::5]:443\"")),
        )
    };
    assert_eq!(
        statuses(&router, vec![carol(), carol(), carol()]).await,
        [503, 503, 429]
    );
    // X-Forwarded-For is not read then: it counts against the proxy.
    let xff_only = from("10.1.0.1:5000", xff("2001:db8::5"));
    assert_eq!(statuses(&router, vec![xff_only]).await, [503]);
}

#[tokio::test]
async fn the_response_names_the_client_for_the_access_log() {
    let router = behind_proxies(ClientIpHeader::XForwardedFor);
    let client = |request: Request<Body>| {
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.expect("infallible");
            response
                .extensions()
                .get::<ClientIp>()
                .map(|c| c.0.to_string())
        }
    };
    assert_eq!(
        client(from("10.1.0.1:5000", xff("203.0.113.1")))
            .await
            .as_deref(),
        Some("203.0.113.1")
    );
    assert_eq!(
        client(from("198.51.100.7:5000", xff("203.0.113.1")))
            .await
            .as_deref(),
        Some("198.51.100.7")
    );
    // Also on a 401 (the token is checked after the client is known).
    let mut bad_token = from("10.1.0.1:5000", xff("203.0.113.9"));
    bad_token
        .headers_mut()
        .insert("authorization", "Bearer nope".parse().expect("a value"));
    assert_eq!(client(bad_token).await.as_deref(), Some("203.0.113.9"));
}
