//! The use cases over a real SQLite store and a manual clock.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use innkeeper_kernel::{ErrorCode, ManualClock, Principal, Role};
use innkeeper_platform::db::Database;
use innkeeper_platform::testing::TestDatabase;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use time::{Duration, OffsetDateTime};

use super::*;

const PASSWORD: &str = "correct horse battery staple";

struct Harness {
    service: IdentityService,
    clock: ManualClock,
    _database: TestDatabase,
}

/// The service secret of [`harness`]'s identity service.
const SERVICE_SECRET: &str = "a long shared service secret";

async fn harness() -> Harness {
    let database = TestDatabase::sqlite().await;
    let Database::Sqlite(db) = database.db.clone() else {
        panic!("sqlite");
    };
    let store = crate::store::sqlite_store(db);
    store.migrate().await.expect("migrate");
    // Whole seconds: JWT times are whole seconds.
    let start = OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp())
        .expect("now");
    let clock = ManualClock::new(start);
    let settings = IdentitySettings {
        service_secret: ServiceSecret(SERVICE_SECRET.to_owned()),
        ..IdentitySettings::default()
    };
    let service = IdentityService::new(store, Arc::new(clock.clone()), settings);
    Harness {
        service,
        clock,
        _database: database,
    }
}

fn register(email: &str, role: RegisterRole) -> Register {
    Register {
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        name: "Ana Silva".to_owned(),
        role,
    }
}

fn login(email: &str, password: &str) -> Login {
    Login {
        email: email.to_owned(),
        password: password.to_owned(),
    }
}

fn refresh(token: &str) -> Refresh {
    Refresh {
        refresh_token: token.to_owned(),
    }
}

impl Harness {
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Verifies an access token the way any verifier must: key by `kid` from the JWKS,
    /// EdDSA only, issuer, audience, and the times against the manual clock.
    async fn verify(&self, token: &str) -> std::result::Result<AccessClaims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("no kid")?;
        let jwks = self.service.jwks().await.map_err(|e| e.to_string())?;
        let jwk = jwks
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| format!("kid {kid} not published"))?;
        let key = DecodingKey::from_ed_components(&jwk.x).map_err(|e| e.to_string())?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&["http://127.0.0.1:8080"]);
        validation.set_audience(&["innkeeper"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map_err(|e| e.to_string())?
            .claims;
        let now = self.now().unix_timestamp();
        if claims.exp <= now {
            return Err("expired".into());
        }
        if claims.nbf > now {
            return Err("not yet valid".into());
        }
        Ok(claims)
    }

    async fn registered(&self, email: &str, role: RegisterRole) -> User {
        self.service
            .register(register(email, role))
            .await
            .expect("registered")
    }
}

fn unauthenticated(message: &str) -> Error {
    Error::new(ErrorCode::Unauthenticated, message)
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn registration_normalises_the_email_and_it_stays_unique() {
    let h = harness().await;
    let user = h
        .registered("  Ana.Silva@Example.COM ", RegisterRole::Hotelier)
        .await;
    assert_eq!(user.email, "ana.silva@example.com");
    assert_eq!(user.role, Role::Hotelier);
    assert_eq!((user.version, user.created_at), (1, h.now()));
    assert_eq!(user.notifications, NotificationPreferences::default());

    let err = h
        .service
        .register(register("ANA.SILVA@example.com", RegisterRole::Guest))
        .await
        .expect_err("taken");
    assert_eq!(err.code, ErrorCode::Conflict);
    assert_eq!(err.code.http_status(), 409);
}

#[tokio::test]
async fn registration_names_every_invalid_field_at_once() {
    let h = harness().await;
    let err = h
        .service
        .register(Register {
            email: "not-an-email".into(),
            password: "short".into(),
            name: "  ".into(),
            role: RegisterRole::Guest,
        })
        .await
        .expect_err("invalid");
    assert_eq!(err.code, ErrorCode::ValidationFailed);
    assert_eq!(err.code.http_status(), 422);
    let fields: Vec<(&str, &str)> = err
        .errors
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("email", "must be an email address (name@example.com)"),
            ("name", "must not be empty"),
            ("password", "must be at least 12 characters long (it has 5)"),
        ]
    );

    let err = h
        .service
        .register(Register {
            password: "ana@example.com".into(),
            ..register("Ana@Example.com", RegisterRole::Guest)
        })
        .await
        .expect_err("weak");
    assert_eq!(err.errors[0].message, "must not be your email address");
}

#[tokio::test]
async fn admins_are_created_in_process_and_carry_the_admin_role() {
    let h = harness().await;
    let admin = h
        .service
        .create_admin("root@innkeeper.test", PASSWORD.into(), "Root")
        .await
        .expect("admin");
    assert_eq!(admin.role, Role::Admin);
    let pair = h
        .service
        .login(login("root@innkeeper.test", PASSWORD))
        .await
        .expect("login");
    assert_eq!(
        h.verify(&pair.access_token).await.expect("valid").role,
        "admin"
    );
}

// ---------------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_issues_a_token_pair_per_the_contract() {
    let h = harness().await;
    let user = h.registered("ana@example.com", RegisterRole::Guest).await;
    let pair = h
        .service
        .login(login(" ANA@example.com", PASSWORD))
        .await
        .expect("login");
    assert_eq!(pair.token_type, "Bearer");
    assert_eq!(pair.expires_in, 900);

    let header = jsonwebtoken::decode_header(&pair.access_token).expect("header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let claims = h.verify(&pair.access_token).await.expect("valid");
    let now = h.now().unix_timestamp();
    assert_eq!(claims.iss, "http://127.0.0.1:8080");
    assert_eq!(claims.aud, "innkeeper");
    assert_eq!(claims.sub, user.id.to_string());
    assert_eq!(claims.role, "guest");
    assert_eq!((claims.iat, claims.nbf, claims.exp), (now, now, now + 900));
    assert!(uuid::Uuid::parse_str(&claims.jti).is_ok());
    assert_eq!(pair.refresh_token.len(), 43, "32 bytes, base64url");

    h.clock.advance(Duration::seconds(900));
    assert_eq!(h.verify(&pair.access_token).await, Err("expired".into()));
}

fn service_request(service: &str, secret: &str) -> ServiceTokenRequest {
    ServiceTokenRequest {
        service: service.to_owned(),
        secret: secret.to_owned(),
    }
}

#[tokio::test]
async fn a_platform_service_with_the_secret_gets_a_service_token() {
    let h = harness().await;
    let token = h
        .service
        .issue_service_token(service_request("booking", SERVICE_SECRET))
        .await
        .expect("issued");
    assert_eq!(token.expires_in, 900);
    let claims = h.verify(&token.access_token).await.expect("valid");
    assert_eq!(claims.role, "service");
    assert_eq!(
        claims.sub,
        Principal::service("booking").user_id.to_string()
    );

    // Wrong secret, unknown service, a secret that is a prefix: one refusal for all.
    let refused = unauthenticated("service credentials refused");
    for request in [
        service_request("booking", "a long shared service"),
        service_request("booking", ""),
        service_request("booking", &format!("{SERVICE_SECRET}!")),
        service_request("gateway-but-evil", SERVICE_SECRET),
        service_request("", SERVICE_SECRET),
    ] {
        assert_eq!(
            h.service.issue_service_token(request).await,
            Err(refused.clone())
        );
    }
}

#[tokio::test]
async fn without_a_configured_secret_no_service_token_is_issued() {
    let h = harness().await;
    let store = h.service.store.clone();
    let bare = IdentityService::new(
        store,
        Arc::new(h.clock.clone()),
        IdentitySettings::default(),
    );
    for secret in ["", SERVICE_SECRET] {
        assert_eq!(
            bare.issue_service_token(service_request("booking", secret))
                .await,
            Err(unauthenticated("service credentials refused"))
        );
    }
}

#[tokio::test]
async fn login_failures_are_identical_for_every_cause() {
    let h = harness().await;
    h.registered("ana@example.com", RegisterRole::Guest).await;
    let expected = unauthenticated(LOGIN_FAILED);
    for attempt in [
        login("ana@example.com", "wrong horse battery staple"),
        login("nobody@example.com", PASSWORD),
        login("not an email", PASSWORD),
        login("ana@example.com", ""),
        login("ana@example.com", &"x".repeat(10_000)),
    ] {
        assert_eq!(
            h.service.login(attempt.clone()).await,
            Err(expected.clone()),
            "{attempt:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_email_costs_what_a_wrong_password_costs() {
    let h = harness().await;
    h.registered("ana@example.com", RegisterRole::Guest).await;
    h.service.prepare().await.expect("warm");
    let time = |attempt: Login| {
        let service = h.service.clone();
        async move {
            let mut total = StdDuration::ZERO;
            for _ in 0..3 {
                let started = Instant::now();
                let _ = service.login(attempt.clone()).await;
                total += started.elapsed();
            }
            total
        }
    };
    let wrong_password = time(login("ana@example.com", "wrong horse battery staple")).await;
    let unknown_email = time(login("nobody@example.com", PASSWORD)).await;
    // Both verify one argon2id hash; without the decoy the unknown email would answer in
    // microseconds. Generous bounds: the machine is shared.
    assert!(
        unknown_email * 3 > wrong_password && wrong_password * 3 > unknown_email,
        "wrong password {wrong_password:?}, unknown email {unknown_email:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Refresh and logout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let h = harness().await;
    let user = h
        .registered("ana@example.com", RegisterRole::Hotelier)
        .await;
    let first = h
        .service
        .login(login("ana@example.com", PASSWORD))
        .await
        .expect("login");
    h.clock.advance(Duration::minutes(14));
    let second = h
        .service
        .refresh(refresh(&first.refresh_token))
        .await
        .expect("rotated");
    assert_ne!(second.refresh_token, first.refresh_token);
    let claims = h.verify(&second.access_token).await.expect("valid");
    assert_eq!(
        (claims.sub, claims.role),
        (user.id.to_string(), "hotelier".into())
    );
    let third = h
        .service
        .refresh(refresh(&second.refresh_token))
        .await
        .expect("rotated again");

    // The thief (or the victim) presents the spent first token: the family dies.
    let expected = Err(unauthenticated(REFRESH_FAILED));
    assert_eq!(
        h.service.refresh(refresh(&first.refresh_token)).await,
        expected
    );
    assert_eq!(
        h.service.refresh(refresh(&third.refresh_token)).await,
        expected
    );
    // Malformed and unknown tokens get the same answer.
    assert_eq!(h.service.refresh(refresh("nonsense")).await, expected);
    let (unknown, _) = crate::domain::refresh::generate();
    assert_eq!(h.service.refresh(refresh(&unknown)).await, expected);
    // A fresh login is a new family, unaffected.
    let other = h
        .service
        .login(login("ana@example.com", PASSWORD))
        .await
        .expect("login");
    h.service
        .refresh(refresh(&other.refresh_token))
        .await
        .expect("new family works");
}

#[tokio::test]
async fn refresh_tokens_expire_after_their_ttl() {
    let h = harness().await;
    h.registered("ana@example.com", RegisterRole::Guest).await;
    let pair = h
        .service
        .login(login("ana@example.com", PASSWORD))
        .await
        .expect("login");
    h.clock.advance(Duration::days(30));
    assert_eq!(
        h.service.refresh(refresh(&pair.refresh_token)).await,
        Err(unauthenticated(REFRESH_FAILED))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_refreshes_of_one_token_leave_nothing_usable() {
    let h = harness().await;
    h.registered("ana@example.com", RegisterRole::Guest).await;
    let pair = h
        .service
        .login(login("ana@example.com", PASSWORD))
        .await
        .expect("login");
    let (a, b) = tokio::join!(
        h.service.refresh(refresh(&pair.refresh_token)),
        h.service.refresh(refresh(&pair.refresh_token))
    );
    let (winner, loser) = match (a, b) {
        (Ok(winner), Err(loser)) | (Err(loser), Ok(winner)) => (winner, loser),
        other => panic!("exactly one refresh must succeed: {other:?}"),
    };
    assert_eq!(loser, unauthenticated(REFRESH_FAILED));
    assert_eq!(
        h.service.refresh(refresh(&winner.refresh_token)).await,
        Err(unauthenticated(REFRESH_FAILED)),
        "the reuse revoked the winner's family too"
    );
}

#[tokio::test]
async fn logout_ends_one_family_or_every_family() {
    let h = harness().await;
    let ana = h.registered("ana@example.com", RegisterRole::Guest).await;
    let bob = h.registered("bob@example.com", RegisterRole::Guest).await;
    let phone = h
        .service
        .login(login("ana@example.com", PASSWORD))
        .await
        .expect("login");
    let laptop = h
        .service
        .login(login("ana@example.com", PASSWORD))
        .await
        .expect("login");

    // Bob cannot end Ana's session with her token; nothing tells him so.
    h.service
        .logout(
            &bob.principal(),
            Logout {
                refresh_token: Some(phone.refresh_token.clone()),
            },
        )
        .await
        .expect("quietly nothing");
    h.service
        .logout(
            &ana.principal(),
            Logout {
                refresh_token: Some("garbage".into()),
            },
        )
        .await
        .expect("quietly nothing");
    let phone = h
        .service
        .refresh(refresh(&phone.refresh_token))
        .await
        .expect("still live");

    h.service
        .logout(
            &ana.principal(),
            Logout {
                refresh_token: Some(phone.refresh_token.clone()),
            },
        )
        .await
        .expect("logout");
    let expected = Err(unauthenticated(REFRESH_FAILED));
    assert_eq!(
        h.service.refresh(refresh(&phone.refresh_token)).await,
        expected
    );
    let laptop = h
        .service
        .refresh(refresh(&laptop.refresh_token))
        .await
        .expect("other device unaffected");

    h.service
        .logout(&ana.principal(), Logout::default())
        .await
        .expect("logout everywhere");
    assert_eq!(
        h.service.refresh(refresh(&laptop.refresh_token)).await,
        expected
    );
}

// ---------------------------------------------------------------------------------------------
// Profile
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_profile_reads_and_changes_with_its_version() {
    let h = harness().await;
    let ana = h.registered("ana@example.com", RegisterRole::Guest).await;
    let me = ana.principal();
    assert_eq!(h.service.me(&me).await, Ok(ana.clone()));

    h.clock.advance(Duration::minutes(1));
    let patch = ProfilePatch {
        name: Some(" Ana Maria ".into()),
        phone: Some("+351 912 345 678".into()),
        telegram_chat_id: Some("12345".into()),
        notifications: Some(NotificationPreferences {
            email: false,
            sms: true,
            telegram: true,
            in_app: true,
        }),
    };
    let updated = h
        .service
        .update_me(&me, 1, patch.clone())
        .await
        .expect("updated");
    assert_eq!(updated.name, "Ana Maria");
    assert_eq!(updated.phone.as_deref(), Some("+351912345678"));
    assert_eq!(updated.telegram_chat_id.as_deref(), Some("12345"));
    assert!(updated.notifications.sms && updated.notifications.telegram);
    assert!(!updated.notifications.email);
    assert_eq!((updated.version, updated.updated_at), (2, h.now()));
    assert_eq!(updated.email, ana.email, "the email is not a profile field");
    assert_eq!(h.service.me(&me).await, Ok(updated.clone()));

    let err = h.service.update_me(&me, 1, patch).await.expect_err("stale");
    assert_eq!(err.code, ErrorCode::VersionMismatch);

    // Clearing the phone switches SMS off with it.
    let cleared = h
        .service
        .update_me(
            &me,
            2,
            ProfilePatch {
                phone: Some(String::new()),
                ..ProfilePatch::default()
            },
        )
        .await
        .expect("cleared");
    assert_eq!(cleared.phone, None);
    assert!(!cleared.notifications.sms);

    let err = h
        .service
        .update_me(
            &me,
            3,
            ProfilePatch {
                notifications: Some(NotificationPreferences {
                    sms: true,
                    ..NotificationPreferences::default()
                }),
                ..ProfilePatch::default()
            },
        )
        .await
        .expect_err("no phone");
    assert_eq!(err.errors[0].field, "notifications.sms");

    let err = h
        .service
        .update_me(
            &me,
            3,
            ProfilePatch {
                name: Some(String::new()),
                phone: Some("12".into()),
                telegram_chat_id: Some("abc".into()),
                notifications: None,
            },
        )
        .await
        .expect_err("invalid");
    let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, vec!["name", "phone", "telegram_chat_id"]);

    let stranger = Principal {
        user_id: innkeeper_kernel::UserId::new(),
        role: Role::Guest,
    };
    assert_eq!(
        h.service.me(&stranger).await.expect_err("none").code,
        ErrorCode::NotFound
    );
}

// ---------------------------------------------------------------------------------------------
// Keys and discovery
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rotated_keys_stay_published_until_their_tokens_expired() {
    let h = harness().await;
    h.registered("ana@example.com", RegisterRole::Guest).await;
    h.service.prepare().await.expect("first key");
    let old = h
        .service
        .login(login("ana@example.com", PASSWORD))
        .await
        .expect("login");
    let old_kid = jsonwebtoken::decode_header(&old.access_token)
        .expect("header")
        .kid
        .expect("kid");

    h.clock.advance(Duration::minutes(5));
    let rotated = h.service.rotate_keys().await.expect("rotated");
    assert_ne!(rotated.kid, old_kid);
    let jwks = h.service.jwks().await.expect("jwks");
    let kids: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, vec![rotated.kid.as_str(), old_kid.as_str()]);
    for key in &jwks.keys {
        assert_eq!(
            (
                key.kty.as_str(),
                key.crv.as_str(),
                key.alg.as_str(),
                key.use_.as_str()
            ),
            ("OKP", "Ed25519", "EdDSA", "sig")
        );
    }

    // The token signed by the old key still verifies; new tokens use the new key.
    h.verify(&old.access_token).await.expect("old token valid");
    let new = h
        .service
        .refresh(refresh(&old.refresh_token))
        .await
        .expect("refresh");
    let new_kid = jsonwebtoken::decode_header(&new.access_token)
        .expect("header")
        .kid;
    assert_eq!(new_kid.as_deref(), Some(rotated.kid.as_str()));
    h.verify(&new.access_token).await.expect("new token valid");

    // Published until the last old token expired plus the leeway, then gone.
    h.clock.advance(Duration::seconds(900 + 300 - 1));
    assert_eq!(h.service.jwks().await.expect("jwks").keys.len(), 2);
    h.clock.advance(Duration::seconds(1));
    let jwks = h.service.jwks().await.expect("jwks");
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(jwks.keys[0].kid, rotated.kid);

    // The next rotation deletes it for good.
    let third = h.service.rotate_keys().await.expect("rotated");
    let stored: Vec<String> = h
        .service
        .signing_keys()
        .await
        .expect("keys")
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(stored, vec![third.kid, rotated.kid]);
}

#[tokio::test]
async fn discovery_describes_the_issuer() {
    let h = harness().await;
    let config = h.service.openid_configuration().await.expect("config");
    assert_eq!(config.issuer, "http://127.0.0.1:8080");
    assert_eq!(
        config.jwks_uri,
        "http://127.0.0.1:8080/.well-known/jwks.json"
    );
    assert_eq!(
        config.token_endpoint,
        "http://127.0.0.1:8080/api/v1/auth/login"
    );
    assert_eq!(config.id_token_signing_alg_values_supported, vec!["EdDSA"]);
}

#[test]
fn settings_default_and_deserialize_with_documented_names() {
    let settings: IdentitySettings = serde_json::from_str(
        r#"{"issuer": "https://inn.example/", "access_token_ttl_seconds": 300}"#,
    )
    .expect("settings");
    assert_eq!(settings.issuer(), "https://inn.example");
    assert_eq!(settings.access_token_ttl_seconds, 300);
    assert_eq!(settings.audience, "innkeeper");
    assert_eq!(settings.refresh_token_ttl_seconds, 2_592_000);
    assert!(serde_json::from_str::<IdentitySettings>(r#"{"isuer": "x"}"#).is_err());
}

#[tokio::test]
async fn a_rotation_by_another_process_is_picked_up_without_a_restart() {
    let h = harness().await;
    h.registered("ana@example.com", RegisterRole::Guest).await;
    h.service.prepare().await.expect("first key");
    // The CLI (`innkeeper keys rotate`) is another service instance on the same database.
    let cli = IdentityService::new(
        Arc::clone(&h.service.store),
        Arc::new(h.clock.clone()),
        IdentitySettings::default(),
    );
    let before = h
        .service
        .login(login("ana@example.com", PASSWORD))
        .await
        .expect("login");
    let rotated = cli.rotate_keys().await.expect("rotated");
    let after = h
        .service
        .refresh(refresh(&before.refresh_token))
        .await
        .expect("refresh");
    let kid = |token: &str| jsonwebtoken::decode_header(token).expect("header").kid;
    assert_ne!(kid(&before.access_token), Some(rotated.kid.clone()));
    assert_eq!(kid(&after.access_token), Some(rotated.kid));
    h.verify(&before.access_token)
        .await
        .expect("old still valid");
    h.verify(&after.access_token).await.expect("new valid");
}

#[tokio::test]
#[ignore = "prints timings; run by hand"]
async fn measure_login_timings() {
    let h = harness().await;
    h.registered("ana@example.com", RegisterRole::Guest).await;
    h.service.prepare().await.expect("warm");
    for (what, attempt) in [
        ("right password", login("ana@example.com", PASSWORD)),
        (
            "wrong password",
            login("ana@example.com", "wrong horse battery staple"),
        ),
        ("unknown email", login("nobody@example.com", PASSWORD)),
    ] {
        let mut samples = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let _ = h.service.login(attempt.clone()).await;
            samples.push(started.elapsed());
        }
        samples.sort();
        eprintln!(
            "{what}: median {:?}, min {:?}, max {:?}",
            samples[5], samples[0], samples[9]
        );
    }
}
