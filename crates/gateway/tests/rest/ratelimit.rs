//! The rate limiter as wired into the gateway router: a 429 problem document with
//! `Retry-After`, under the configured quota; and off when disabled.

use axum::body::Body;
use http::Request;
use innkeeper_gateway::{GatewaySettings, RateLimitSettings, router};

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
