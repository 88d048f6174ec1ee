//! The cache of verified tokens: a token seen again is not verified again, and the cache never
//! accepts a token a full verification would refuse now.

use std::time::Instant;

use innkeeper_kernel::{Clock as _, SystemClock};

use super::*;
use crate::auth::testing::TestIssuer;

/// A local issuer whose published keys the test can change.
struct Rig {
    clock: ManualClock,
    key: TestKey,
    published: Arc<Mutex<JwkSet>>,
    verifier: Verifier,
}

fn rig(cache_size: u64) -> Rig {
    let clock = clock();
    let key = TestKey::ed25519("local-1");
    let published = Arc::new(Mutex::new(JwkSet {
        keys: vec![key.jwk.clone()],
    }));
    let settings = AuthSettings {
        verified_token_cache_size: cache_size,
        ..AuthSettings::default()
    };
    let verifier = Verifier::from_settings(
        &settings,
        shared_keys(published.clone(), Arc::new(AtomicU64::new(0))),
        Arc::new(clock.clone()),
    )
    .expect("valid settings");
    Rig {
        clock,
        key,
        published,
        verifier,
    }
}

impl Rig {
    fn token(&self, role: &str) -> (String, Principal) {
        let user = UserId::new();
        let token = self.key.sign(&local_claims(&self.clock, user, role));
        let role = Role::parse(role).expect("a role");
        (
            token,
            Principal {
                user_id: user,
                role,
            },
        )
    }

    /// A token whose `exp` is `ttl` seconds from now.
    fn token_expiring_in(&self, ttl: i64) -> String {
        let mut claims = local_claims(&self.clock, UserId::new(), "guest");
        claims["exp"] = json!(self.clock.now().unix_timestamp() + ttl);
        self.key.sign(&claims)
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(time::Duration::seconds(seconds));
    }
}

#[tokio::test]
async fn a_token_seen_again_is_answered_from_the_cache() {
    let t = rig(100);
    let (token, principal) = t.token("hotelier");
    for _ in 0..5 {
        assert_eq!(t.verifier.verify(&token).await, Ok(principal));
    }
    assert_eq!(t.verifier.verifications(), 1);
    // Another token of the same user is another entry.
    let (other, _) = t.token("guest");
    assert!(t.verifier.verify(&other).await.is_ok());
    assert_eq!(t.verifier.verifications(), 2);
}

#[tokio::test]
async fn without_a_cache_every_token_is_verified_in_full() {
    let t = rig(0);
    let (token, principal) = t.token("guest");
    for _ in 0..3 {
        assert_eq!(t.verifier.verify(&token).await, Ok(principal));
    }
    assert_eq!(t.verifier.verifications(), 3);
}

#[tokio::test]
async fn a_cached_token_expires_on_the_verifiers_clock() {
    let t = rig(100);
    // exp in 10 s, leeway 30 s: acceptable until 40 s from now.
    let token = t.token_expiring_in(10);
    assert!(t.verifier.verify(&token).await.is_ok());
    t.advance(40);
    assert!(t.verifier.verify(&token).await.is_ok(), "inside the leeway");
    assert_eq!(t.verifier.verifications(), 1, "answered from the cache");
    t.advance(1);
    let err = t.verifier.verify(&token).await.expect_err("expired");
    assert_eq!(err.code, ErrorCode::Unauthenticated);
    assert_eq!(err.message, "token expired");
    // Refused again, never from a stale entry.
    assert_eq!(
        t.verifier.verify(&token).await.map_err(|e| e.message),
        Err("token expired".to_owned())
    );
    assert_eq!(t.verifier.verifications(), 3);
}

#[tokio::test]
async fn a_cached_token_is_verified_again_after_a_minute() {
    let t = rig(100);
    let (token, principal) = t.token("guest");
    assert_eq!(t.verifier.verify(&token).await, Ok(principal));
    t.advance(60);
    assert_eq!(t.verifier.verify(&token).await, Ok(principal));
    assert_eq!(t.verifier.verifications(), 1);
    t.advance(1);
    assert_eq!(t.verifier.verify(&token).await, Ok(principal));
    assert_eq!(
        t.verifier.verifications(),
        2,
        "older than a minute: in full"
    );
}

#[tokio::test]
async fn a_token_not_yet_valid_is_not_cached_and_a_clock_going_back_does_not_help() {
    let t = rig(100);
    let mut claims = local_claims(&t.clock, UserId::new(), "guest");
    let now = t.clock.now().unix_timestamp();
    claims["nbf"] = json!(now + 40);
    let token = t.key.sign(&claims);
    let err = t.verifier.verify(&token).await.expect_err("too early");
    assert_eq!(err.message, "token not yet valid");
    t.advance(10);
    assert!(t.verifier.verify(&token).await.is_ok(), "inside the leeway");
    // The clock stepping back past nbf - leeway: the entry does not hold then.
    t.clock.advance(time::Duration::seconds(-11));
    let err = t
        .verifier
        .verify(&token)
        .await
        .expect_err("too early again");
    assert_eq!(err.message, "token not yet valid");
}

#[tokio::test]
async fn a_tampered_token_is_verified_in_full_and_refused() {
    let t = rig(100);
    let (token, _) = t.token("guest");
    assert!(t.verifier.verify(&token).await.is_ok());
    let [header, payload, signature] = token.split('.').collect::<Vec<_>>()[..] else {
        panic!("three parts")
    };
    let mut claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(payload)
            .expect("the payload is base64url"),
    )
    .expect("the payload is JSON");
    claims["role"] = json!("admin");
    let escalated = format!("{header}.{}.{signature}", b64(&claims));
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ASCII");
    for forged in [escalated, flipped, format!("{token} "), format!("{token}.")] {
        let err = t.verifier.verify(&forged).await.expect_err("forged");
        assert_eq!(err.code, ErrorCode::Unauthenticated, "{forged}");
    }
    assert_eq!(t.verifier.verifications(), 5);
    // The genuine token is still answered from the cache.
    assert!(t.verifier.verify(&token).await.is_ok());
    assert_eq!(t.verifier.verifications(), 5);
}

#[tokio::test]
async fn refusals_are_not_cached() {
    let t = rig(100);
    let mut claims = local_claims(&t.clock, UserId::new(), "guest");
    claims["aud"] = json!("someone-else");
    let token = t.key.sign(&claims);
    for _ in 0..3 {
        let err = t.verifier.verify(&token).await.expect_err("wrong audience");
        assert_eq!(err.message, "wrong audience");
    }
    assert_eq!(t.verifier.verifications(), 3);
}

#[tokio::test]
async fn a_withdrawn_key_stops_cached_tokens_at_the_refetch_that_notices_it() {
    let t = rig(100);
    let (old, _) = t.token("admin");
    assert!(t.verifier.verify(&old).await.is_ok());
    // The issuer withdraws its key and signs with a new one (a compromised key replaced).
    let second = TestKey::ed25519("local-2");
    t.published.lock().expect("not poisoned").keys = vec![second.jwk.clone()];
    t.advance(2);
    // Still cached: nothing has told this verifier yet (at most a minute).
    assert!(t.verifier.verify(&old).await.is_ok());
    // The first token of the new key makes it refetch, and the withdrawal is noticed.
    let new = second.sign(&local_claims(&t.clock, UserId::new(), "guest"));
    assert!(t.verifier.verify(&new).await.is_ok());
    let err = t.verifier.verify(&old).await.expect_err("key withdrawn");
    assert_eq!(err.message, "token signed with an unknown key");
    // Tokens of the new key are cached as usual (the one whose verification noticed the
    // withdrawal was recorded under the old generation, so it is verified once more).
    assert!(t.verifier.verify(&new).await.is_ok());
    let before = t.verifier.verifications();
    assert!(t.verifier.verify(&new).await.is_ok());
    assert_eq!(t.verifier.verifications(), before);
}

#[tokio::test]
async fn a_key_withdrawn_without_a_successor_stops_at_the_next_key_refresh() {
    let t = rig(100);
    let (old, _) = t.token("admin");
    assert!(t.verifier.verify(&old).await.is_ok());
    // The issuer withdraws its only key; no token of a new key comes to make anyone look.
    t.published.lock().expect("not poisoned").keys = vec![];
    assert!(t.verifier.verify(&old).await.is_ok(), "nothing noticed yet");
    t.verifier.refresh_keys().await.expect("the JWKS answers");
    let err = t.verifier.verify(&old).await.expect_err("key withdrawn");
    assert_eq!(err.message, "token signed with an unknown key");
}

#[tokio::test]
async fn a_key_refresh_that_fails_keeps_the_keys() {
    let clock = clock();
    let key = TestKey::ed25519("local-1");
    let jwks = JwkSet {
        keys: vec![key.jwk.clone()],
    };
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let source = {
        let down = down.clone();
        Arc::new(FnKeySource::new(move || {
            let (jwks, down) = (jwks.clone(), down.load(Ordering::SeqCst));
            async move {
                if down {
                    Err(innkeeper_kernel::Error::unavailable("the JWKS is down"))
                } else {
                    Ok(jwks)
                }
            }
        }))
    };
    let settings = AuthSettings {
        verified_token_cache_size: 0,
        ..AuthSettings::default()
    };
    let verifier = Verifier::from_settings(&settings, source, Arc::new(clock.clone()))
        .expect("valid settings");
    // An issuer no token has named yet is left alone.
    verifier.refresh_keys().await.expect("nothing to refresh");
    let token = key.sign(&local_claims(&clock, UserId::new(), "guest"));
    assert!(verifier.verify(&token).await.is_ok());
    down.store(true, Ordering::SeqCst);
    let err = verifier
        .refresh_keys()
        .await
        .expect_err("the source is down");
    assert_eq!(err.code, ErrorCode::Unavailable);
    // Every token is verified in full here (no cache): the kept key still verifies it.
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn another_configuration_is_another_verifier_with_its_own_cache() {
    let issuer = TestIssuer::new();
    let clock: Arc<dyn innkeeper_kernel::Clock> = Arc::new(SystemClock);
    let ours = issuer.verifier(clock.clone());
    let theirs = Verifier::from_settings(
        &AuthSettings {
            audience: "another-api".into(),
            ..AuthSettings::default()
        },
        issuer.key_source(),
        clock,
    )
    .expect("valid settings");
    let principal = Principal {
        user_id: UserId::new(),
        role: Role::Guest,
    };
    let token = issuer.token(&principal);
    assert_eq!(ours.verify(&token).await, Ok(principal));
    assert_eq!(ours.verify(&token).await, Ok(principal));
    let err = theirs.verify(&token).await.expect_err("another audience");
    assert_eq!(err.message, "wrong audience");
}

/// Figures, not a check: `cargo test -p innkeeper-platform --release --lib -- --ignored
/// --nocapture verification_costs`.
#[tokio::test]
#[ignore = "prints timings"]
async fn verification_costs() {
    const N: u32 = 5_000;
    let full = rig(0);
    let (token, _) = full.token("guest");
    let started = Instant::now();
    for _ in 0..N {
        full.verifier.verify(&token).await.expect("valid");
    }
    let per_full = started.elapsed() / N;
    let cached = rig(100);
    let (token, _) = cached.token("guest");
    cached.verifier.verify(&token).await.expect("valid");
    let started = Instant::now();
    for _ in 0..N {
        cached.verifier.verify(&token).await.expect("valid");
    }
    let per_hit = started.elapsed() / N;
    let started = Instant::now();
    let (signing, message) = token.rsplit_once('.').map(|(m, s)| (s, m)).expect("a JWT");
    let key = jsonwebtoken::DecodingKey::from_jwk(&cached.key.jwk).expect("a key");
    for _ in 0..N {
        assert!(
            jsonwebtoken::crypto::verify(signing, message.as_bytes(), &key, Algorithm::EdDSA)
                .expect("verifies")
        );
    }
    let per_signature = started.elapsed() / N;
    println!(
        "per token: full verification {per_full:?} (of which the Ed25519 signature \
         {per_signature:?}), from the cache {per_hit:?}"
    );
}
