//! The verifier against real keys: a local EdDSA issuer handing keys over in-process and an
//! independent external RS256 issuer whose JWKS is served over HTTP by the test.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use innkeeper_kernel::{ErrorCode, ManualClock, Principal, Role, UserId};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use time::macros::datetime;

use super::*;

mod cache;
mod tls;

const LOCAL: &str = "http://127.0.0.1:8080";
const EXTERNAL: &str = "http://keycloak.test/realms/innkeeper";

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2026-06-01 12:00 UTC))
}

/// A signing key of a test issuer.
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
    /// The raw public key (Ed25519) for the HS256-with-public-key attack.
    public: Vec<u8>,
}

impl TestKey {
    fn ed25519(kid: &str) -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generates");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("parses");
        let public = pair.public_key().as_ref().to_vec();
        let jwk = serde_json::from_value(json!({
            "kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&public),
        }))
        .expect("a valid JWK");
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk,
            public,
        }
    }

    fn rsa(kid: &str) -> Self {
        let pair =
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("generates");
        let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().expect("serialises");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der.as_ref())
        );
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("a PKCS#8 RSA key");
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("a JWK");
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            encoding,
            jwk,
            public: Vec::new(),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signs")
    }
}

fn local_claims(clock: &ManualClock, sub: UserId, role: &str) -> Value {
    let now = innkeeper_kernel::Clock::now(clock).unix_timestamp();
    json!({
        "iss": LOCAL, "aud": "innkeeper", "sub": sub.to_string(),
        "iat": now, "nbf": now, "exp": now + 900,
        "jti": uuid::Uuid::new_v4().to_string(), "role": role,
    })
}

/// Keys handed over in-process, counting fetches.
fn shared_keys(keys: Arc<Mutex<JwkSet>>, fetches: Arc<AtomicU64>) -> Arc<dyn KeySource> {
    Arc::new(FnKeySource::new(move || {
        let keys = keys.clone();
        let fetches = fetches.clone();
        async move {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(keys.lock().expect("not poisoned").clone())
        }
    }))
}

struct Local {
    clock: ManualClock,
    key: TestKey,
    verifier: Verifier,
    fetches: Arc<AtomicU64>,
}

fn local() -> Local {
    let clock = clock();
    let key = TestKey::ed25519("local-1");
    let keys = Arc::new(Mutex::new(JwkSet {
        keys: vec![key.jwk.clone()],
    }));
    let fetches = Arc::new(AtomicU64::new(0));
    let verifier = Verifier::from_settings(
        &AuthSettings::default(),
        shared_keys(keys, fetches.clone()),
        Arc::new(clock.clone()),
    )
    .expect("default settings are valid");
    Local {
        clock,
        key,
        verifier,
        fetches,
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("serialises"))
}

#[tokio::test]
async fn a_local_eddsa_token_is_accepted() {
    let t = local();
    let user = UserId::new();
    for (claim, role) in [
        ("guest", Role::Guest),
        ("hotelier", Role::Hotelier),
        ("admin", Role::Admin),
    ] {
        let token = t.key.sign(&local_claims(&t.clock, user, claim));
        let principal = t.verifier.verify(&token).await.expect("accepted");
        assert_eq!(
            principal,
            Principal {
                user_id: user,
                role
            }
        );
    }
    // Keys are fetched once and then served from the cache.
    assert_eq!(t.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(t.verifier.key_fetches(LOCAL), 1);
}

#[tokio::test]
async fn skew_within_the_leeway_is_tolerated() {
    let t = local();
    let mut claims = local_claims(&t.clock, UserId::new(), "guest");
    let now = claims["iat"].as_i64().expect("a number");
    claims["exp"] = json!(now - 25);
    claims["nbf"] = json!(now + 25);
    assert!(t.verifier.verify(&t.key.sign(&claims)).await.is_ok());
}

#[tokio::test]
async fn the_bad_token_corpus_is_rejected_entirely() {
    let t = local();
    let user = UserId::new();
    let good = local_claims(&t.clock, user, "hotelier");
    let now = good["iat"].as_i64().expect("a number");
    let with = |key: &str, value: Value| {
        let mut claims = good.clone();
        claims[key] = value;
        claims
    };
    let valid = t.key.sign(&good);
    let [header, _, signature] = valid.split('.').collect::<Vec<_>>()[..] else {
        panic!("three parts")
    };

    let mut corpus: Vec<(&str, &str, String)> = vec![
        // First, so it causes the first fetch: still unknown after it.
        (
            "unknown kid",
            "token signed with an unknown key",
            TestKey::ed25519("nobody-knows-me").sign(&good),
        ),
        (
            "expired",
            "token expired",
            t.key.sign(&with("exp", json!(now - 31))),
        ),
        (
            "not yet valid",
            "token not yet valid",
            t.key.sign(&with("nbf", json!(now + 60))),
        ),
        (
            "wrong aud",
            "wrong audience",
            t.key.sign(&with("aud", json!("someone-else"))),
        ),
        ("no aud", "token has no aud", {
            let mut c = good.clone();
            c.as_object_mut().expect("object").remove("aud");
            t.key.sign(&c)
        }),
        ("no exp", "token has no exp", {
            let mut c = good.clone();
            c.as_object_mut().expect("object").remove("exp");
            t.key.sign(&c)
        }),
        (
            "wrong iss",
            "token issuer is not trusted",
            t.key.sign(&with("iss", json!("http://evil.test"))),
        ),
        (
            "iss with a trailing slash",
            "token issuer is not trusted",
            t.key.sign(&with("iss", json!(format!("{LOCAL}/")))),
        ),
        (
            "alg none",
            "malformed token",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT", "kid": "local-1"})),
                b64(&good)
            ),
        ),
        (
            "HS256 signed with the public key",
            "algorithm HS256 is not accepted from this issuer",
            {
                let mut h = Header::new(Algorithm::HS256);
                h.kid = Some("local-1".into());
                jsonwebtoken::encode(&h, &good, &EncodingKey::from_secret(&t.key.public))
                    .expect("signs")
            },
        ),
        (
            "HS256 signed with the JWK x",
            "algorithm HS256 is not accepted from this issuer",
            {
                let mut h = Header::new(Algorithm::HS256);
                h.kid = Some("local-1".into());
                let x = URL_SAFE_NO_PAD.encode(&t.key.public);
                jsonwebtoken::encode(&h, &good, &EncodingKey::from_secret(x.as_bytes()))
                    .expect("signs")
            },
        ),
        ("tampered payload", "bad signature", {
            let forged = with("role", json!("admin"));
            format!("{header}.{}.{signature}", b64(&forged))
        }),
        (
            "signed by a wrong key with the right kid",
            "bad signature",
            TestKey::ed25519("local-1").sign(&good),
        ),
        ("missing kid", "token has no key id (kid)", {
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &good, &t.key.encoding)
                .expect("signs")
        }),
        ("empty kid", "token has no key id (kid)", {
            let mut h = Header::new(Algorithm::EdDSA);
            h.kid = Some(String::new());
            jsonwebtoken::encode(&h, &good, &t.key.encoding).expect("signs")
        }),
        (
            "sub not a user id",
            "token subject is not a user id",
            t.key.sign(&with("sub", json!("alice"))),
        ),
        (
            "unknown role",
            "token carries no accepted role",
            t.key.sign(&with("role", json!("root"))),
        ),
        ("no role", "token carries no accepted role", {
            let mut c = good.clone();
            c.as_object_mut().expect("object").remove("role");
            t.key.sign(&c)
        }),
        (
            "signature stripped",
            "bad signature",
            format!("{header}.{}.", b64(&good)),
        ),
        ("garbage", "malformed token", "garbage".into()),
        ("empty", "malformed token", String::new()),
        ("three dots", "malformed token", "a.b.c".into()),
        ("only dots", "malformed token", "..".into()),
        ("bad base64", "malformed token", "!!!.???.***".into()),
    ];
    let mut leaks = Vec::new();
    let cases = corpus.len();
    for (name, reason, token) in corpus.drain(..) {
        match t.verifier.verify(&token).await {
            Err(e) if e.code == ErrorCode::Unauthenticated && e.message == reason => {}
            other => leaks.push(format!("{name}: expected {reason:?}, got {other:?}")),
        }
    }
    assert_eq!(cases, 24);
    assert!(leaks.is_empty(), "accepted or mis-coded: {leaks:#?}");
    // The unknown kid caused the one fetch; everything else was checked against the cache.
    assert_eq!(t.fetches.load(Ordering::SeqCst), 1);
    // The valid token itself, as a control.
    assert!(t.verifier.verify(&valid).await.is_ok());
}

#[tokio::test]
async fn the_reason_names_what_is_wrong() {
    let t = local();
    let good = local_claims(&t.clock, UserId::new(), "guest");
    let token = t.key.sign(&good);
    t.clock.advance(time::Duration::seconds(900 + 31));
    let err = t.verifier.verify(&token).await.expect_err("expired");
    assert_eq!(err.message, "token expired");
    let err = t.verifier.verify("x").await.expect_err("garbage");
    assert_eq!(err.message, "malformed token");
}

/// A JWKS endpoint served by the test, counting requests.
struct JwksServer {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicU64>,
}

/// The JWKS router of a test server: its keys and a count of requests.
type JwksApp = (axum::Router, Arc<Mutex<Vec<Value>>>, Arc<AtomicU64>);

fn jwks_app(keys: Vec<Value>) -> JwksApp {
    let keys = Arc::new(Mutex::new(keys));
    let hits = Arc::new(AtomicU64::new(0));
    let (served, counted) = (keys.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/certs",
        axum::routing::get(move || {
            let keys = served.lock().expect("not poisoned").clone();
            counted.fetch_add(1, Ordering::SeqCst);
            async move { axum::Json(json!({ "keys": keys })) }
        }),
    );
    (app, keys, hits)
}

async fn jwks_server(keys: Vec<Value>) -> JwksServer {
    let (app, keys, hits) = jwks_app(keys);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    JwksServer {
        url: format!("http://{addr}/certs"),
        keys,
        hits,
    }
}

fn external_settings(jwks_url: &str) -> ExternalIssuerSettings {
    ExternalIssuerSettings {
        issuer: EXTERNAL.into(),
        jwks_url: jwks_url.into(),
        audience: "innkeeper-api".into(),
        role_map: [
            ("hotel-owner".to_owned(), Role::Hotelier),
            ("customer".to_owned(), Role::Guest),
            ("platform-admin".to_owned(), Role::Admin),
        ]
        .into(),
        ..ExternalIssuerSettings::default()
    }
}

fn external_claims(clock: &ManualClock, sub: &str, roles: &[&str]) -> Value {
    let now = innkeeper_kernel::Clock::now(clock).unix_timestamp();
    json!({
        "iss": EXTERNAL, "aud": ["account", "innkeeper-api"], "sub": sub,
        "iat": now, "exp": now + 300, "azp": "innkeeper-web",
        "realm_access": { "roles": roles },
    })
}

#[tokio::test]
async fn an_external_rs256_issuer_is_accepted_mapped_and_rotated() {
    let clock = clock();
    let first = TestKey::rsa("kc-1");
    let odd_keys = vec![
        json!({"kty": "weird", "kid": "x"}),
        json!({"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": "AAAA"}),
    ];
    let mut published = odd_keys.clone();
    published.push(serde_json::to_value(&first.jwk).expect("serialises"));
    let server = jwks_server(published).await;
    let local_key = TestKey::ed25519("local-1");
    let local_keys = Arc::new(Mutex::new(JwkSet {
        keys: vec![local_key.jwk.clone()],
    }));
    let settings = AuthSettings {
        external: vec![external_settings(&server.url)],
        ..AuthSettings::default()
    };
    let verifier = Verifier::from_settings(
        &settings,
        shared_keys(local_keys, Arc::new(AtomicU64::new(0))),
        Arc::new(clock.clone()),
    )
    .expect("valid settings");

    // Accepted, roles mapped (the strongest wins), the subject namespaced to the issuer.
    let token = first.sign(&external_claims(
        &clock,
        "f:1234:alice",
        &["offline_access", "customer", "hotel-owner"],
    ));
    let principal = verifier.verify(&token).await.expect("accepted");
    assert_eq!(principal.role, Role::Hotelier);
    assert_eq!(
        principal.user_id,
        external_user_id(EXTERNAL, "f:1234:alice")
    );
    assert_eq!(
        principal.user_id,
        verifier.verify(&token).await.expect("again").user_id,
        "deterministic"
    );
    // A UUID subject is namespaced too: an external issuer cannot speak for a local user.
    let local_user = UserId::new();
    let token = first.sign(&external_claims(
        &clock,
        &local_user.to_string(),
        &["platform-admin"],
    ));
    let principal = verifier.verify(&token).await.expect("accepted");
    assert_eq!(principal.role, Role::Admin);
    assert_ne!(principal.user_id, local_user);
    // No mapped role: refused.
    let token = first.sign(&external_claims(&clock, "bob", &["offline_access"]));
    let err = verifier.verify(&token).await.expect_err("no role");
    assert_eq!(err.code, ErrorCode::Unauthenticated);
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // The issuer's keys do not verify the local issuer's tokens, nor the other way round.
    let mut crossed = external_claims(&clock, "alice", &["customer"]);
    crossed["iss"] = json!(LOCAL);
    assert!(verifier.verify(&first.sign(&crossed)).await.is_err());
    let mut crossed = local_claims(&clock, UserId::new(), "admin");
    crossed["iss"] = json!(EXTERNAL);
    crossed["aud"] = json!("innkeeper-api");
    let err = verifier
        .verify(&local_key.sign(&crossed))
        .await
        .expect_err("EdDSA is not pinned for the external issuer");
    assert_eq!(err.code, ErrorCode::Unauthenticated);

    // Rotation: the issuer publishes a new key and signs with it.
    let second = TestKey::rsa("kc-2");
    server
        .keys
        .lock()
        .expect("not poisoned")
        .push(serde_json::to_value(&second.jwk).expect("serialises"));
    let rotated = second.sign(&external_claims(&clock, "alice", &["customer"]));
    // Within the refetch interval the new kid is not looked up again...
    let err = verifier.verify(&rotated).await.expect_err("rate-limited");
    assert_eq!(err.code, ErrorCode::Unauthenticated);
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    // ...after it, one refetch finds it; the old key keeps working.
    clock.advance(time::Duration::seconds(30));
    assert_eq!(
        verifier.verify(&rotated).await.expect("rotated key").role,
        Role::Guest
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    let old = first.sign(&external_claims(&clock, "alice", &["customer"]));
    assert!(verifier.verify(&old).await.is_ok());

    // A flood of unknown kids costs at most one fetch per interval.
    let unknown = TestKey::rsa("kc-unknown");
    for _ in 0..20 {
        let err = verifier
            .verify(&unknown.sign(&external_claims(&clock, "eve", &["customer"])))
            .await
            .expect_err("unknown kid");
        assert_eq!(err.code, ErrorCode::Unauthenticated);
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    clock.advance(time::Duration::seconds(31));
    let _ = verifier
        .verify(&unknown.sign(&external_claims(&clock, "eve", &["customer"])))
        .await;
    assert_eq!(server.hits.load(Ordering::SeqCst), 3);
    assert_eq!(verifier.key_fetches(EXTERNAL), 3);
}

#[tokio::test]
async fn a_key_source_that_is_down_is_unavailable_not_unauthenticated() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("http://{}/certs", listener.local_addr().expect("bound"));
    drop(listener);
    let clock = clock();
    let key = TestKey::ed25519("local-1");
    let source = HttpKeySource::new(&url, Duration::from_secs(2)).expect("an http URL");
    let verifier = Verifier::new(
        vec![TrustedIssuer::local(LOCAL, "innkeeper", Arc::new(source))],
        Duration::from_secs(30),
        Duration::from_secs(30),
        Arc::new(clock.clone()),
    );
    let token = key.sign(&local_claims(&clock, UserId::new(), "guest"));
    let err = verifier.verify(&token).await.expect_err("no keys");
    assert_eq!(err.code, ErrorCode::Unavailable);
    // Right after a failed fetch: still unavailable (the key may exist), without fetching again,
    // so a down endpoint is not hammered.
    let err = verifier.verify(&token).await.expect_err("no keys");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert_eq!(verifier.key_fetches(LOCAL), 1);
    // A second later (not the whole 30 s refetch interval) it asks again.
    clock.advance(time::Duration::seconds(2));
    let err = verifier.verify(&token).await.expect_err("still down");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert_eq!(verifier.key_fetches(LOCAL), 2);
}

#[test]
fn unsafe_or_useless_external_settings_are_refused() {
    let local: Arc<dyn KeySource> = shared_keys(
        Arc::new(Mutex::new(JwkSet { keys: Vec::new() })),
        Arc::new(AtomicU64::new(0)),
    );
    let clock: Arc<dyn innkeeper_kernel::Clock> = Arc::new(clock());
    let build = |external: ExternalIssuerSettings| {
        let settings = AuthSettings {
            external: vec![external],
            ..AuthSettings::default()
        };
        Verifier::from_settings(&settings, local.clone(), clock.clone())
    };
    let ok = external_settings("http://127.0.0.1:1/certs");
    assert!(build(ok.clone()).is_ok());
    let err = build(ExternalIssuerSettings {
        algorithms: vec![Algorithm::RS256, Algorithm::HS256],
        ..ok.clone()
    })
    .expect_err("HS256");
    assert_eq!(err.errors[0].field, "auth.external[0].algorithms");
    assert!(
        build(ExternalIssuerSettings {
            jwks_url: "https://idp.test/certs".into(),
            ..ok.clone()
        })
        .is_ok()
    );
    let err = build(ExternalIssuerSettings {
        jwks_url: "ftp://idp.test/certs".into(),
        ..ok.clone()
    })
    .expect_err("not HTTP");
    assert_eq!(err.errors[0].field, "auth.external[0].jwks_url");
    let err = build(ExternalIssuerSettings {
        role_map: Default::default(),
        ..ok.clone()
    })
    .expect_err("no roles");
    assert_eq!(err.errors[0].field, "auth.external[0].role_map");
    let err = build(ExternalIssuerSettings {
        issuer: LOCAL.into(),
        ..ok
    })
    .expect_err("duplicate issuer");
    assert_eq!(err.errors[0].field, "auth.external[0].issuer");
}

#[test]
fn settings_load_from_toml_with_defaults() {
    #[derive(serde::Deserialize)]
    struct Root {
        auth: AuthSettings,
    }
    let toml = r#"
        [auth]
        leeway_seconds = 10

        [[auth.external]]
        issuer = "https://kc.example/realms/hotels"
        jwks_url = "https://kc.internal/realms/hotels/protocol/openid-connect/certs"
        ca_file = "/etc/innkeeper/kc-ca.pem"
        role_map = { hotel-owner = "hotelier", admin = "admin" }
    "#;
    let root: Root = crate::config::load(toml, None, &[]).expect("loads");
    assert_eq!(root.auth.issuer, DEFAULT_ISSUER);
    assert_eq!(root.auth.leeway_seconds, 10);
    assert_eq!(root.auth.jwks_refetch_seconds, 30);
    let ext = &root.auth.external[0];
    assert_eq!(ext.algorithms, vec![Algorithm::RS256]);
    assert_eq!(ext.roles_claim, "realm_access.roles");
    assert_eq!(ext.audience, DEFAULT_AUDIENCE);
    assert_eq!(ext.role_map["hotel-owner"], Role::Hotelier);
    assert_eq!(
        ext.ca_file.as_deref(),
        Some(std::path::Path::new("/etc/innkeeper/kc-ca.pem"))
    );
    assert_eq!(ExternalIssuerSettings::default().ca_file, None);
}

#[test]
fn bearer_tokens_are_read_from_the_authorization_header() {
    assert_eq!(bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
    assert_eq!(bearer_token("bearer  abc "), Some("abc"));
    assert_eq!(bearer_token("Basic dXNlcjpwYXNz"), None);
    assert_eq!(bearer_token("Bearer "), None);
    assert_eq!(bearer_token("Bearer"), None);
}
