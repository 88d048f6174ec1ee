//! The adapter end to end: a real tonic server on a loopback port in front of the real
//! service (SQLite), called in-process and through the remote client: same values, same errors.
//! The server trusts the service's own signing keys (tokens from login) and a test issuer's
//! (tokens minted for users that do not exist); remote calls run inside the caller's
//! credential scope, as the gateway runs them.

use std::sync::Arc;
use std::time::Duration;

use innkeeper_kernel::{ErrorCode, Principal, Role, SystemClock, UserId};
use innkeeper_platform::auth::testing::TestIssuer;
use innkeeper_platform::auth::{AuthSettings, FnKeySource, Verifier, credential};
use innkeeper_platform::db::Database;
use innkeeper_platform::grpc::{error_from_status, insert_bearer};
use innkeeper_platform::resilience::ResilienceConfig;
use innkeeper_platform::testing::TestDatabase;
use innkeeper_proto::identity::v1 as pb;
use pb::identity_service_client::IdentityServiceClient;
use time::OffsetDateTime;
use tonic::transport::{Channel, Endpoint, Server};

use super::{IdentityGrpcClient, service};
use crate::api::{
    IdentityApi, IdentityClient, Login, Logout, NotificationPreferences, ProfilePatch, Refresh,
    Register, RegisterRole,
};
use crate::{IdentityService, IdentitySettings};

const PASSWORD: &str = "correct horse battery staple";

struct Harness {
    local: IdentityClient,
    remote: IdentityClient,
    channel: Channel,
    issuer: TestIssuer,
    _database: TestDatabase,
}

impl Harness {
    /// A valid access token for `who` (minted by the test issuer).
    fn token(&self, who: &Principal) -> String {
        self.issuer.token(who)
    }

    /// Runs `work` as the gateway runs a request of `who`: inside the scope of their token.
    async fn acting_as<F: std::future::Future>(&self, who: &Principal, work: F) -> F::Output {
        credential::scope(self.token(who), work).await
    }
}

/// A verifier trusting the keys `api` publishes and those of `issuer`, as a node trusts
/// identity's keys.
fn verifier(api: Arc<dyn IdentityApi>, issuer: &TestIssuer) -> Arc<Verifier> {
    let extra = issuer.jwks();
    let keys = FnKeySource::new(move || {
        let (api, extra) = (Arc::clone(&api), extra.clone());
        async move {
            let mut keys = crate::verification::published_keys(&*api).await?;
            keys.keys.extend(extra.keys);
            Ok(keys)
        }
    });
    let verifier = Verifier::from_settings(
        &AuthSettings::default(),
        Arc::new(keys),
        Arc::new(SystemClock),
    )
    .expect("default settings");
    Arc::new(verifier)
}

async fn harness() -> Harness {
    let database = TestDatabase::sqlite().await;
    let Database::Sqlite(db) = database.db.clone() else {
        panic!("sqlite");
    };
    let store = crate::store::sqlite_store(db);
    store.migrate().await.expect("migrate");
    let identity = IdentityService::new(store, Arc::new(SystemClock), IdentitySettings::default());
    // As the module does at start: a signing key exists before the first token is verified.
    identity.prepare().await.expect("prepared");
    let api: Arc<dyn IdentityApi> = Arc::new(identity);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let issuer = TestIssuer::new();
    let server = Server::builder()
        .add_service(service(
            Arc::clone(&api),
            verifier(Arc::clone(&api), &issuer),
        ))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    // The server lives as long as the test's runtime.
    tokio::spawn(server);
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_lazy();
    let remote = IdentityClient::new(Arc::new(IdentityGrpcClient::new(
        channel.clone(),
        ResilienceConfig::within(Duration::from_secs(10)),
    )));
    Harness {
        local: IdentityClient::new(api),
        remote,
        channel,
        issuer,
        _database: database,
    }
}

fn register(email: &str) -> Register {
    Register {
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        name: "Ana Silva".to_owned(),
        role: RegisterRole::Hotelier,
    }
}

#[tokio::test]
async fn values_round_trip_every_field() {
    let h = harness().await;
    let ana = h
        .remote
        .register(register("ana@example.com"))
        .await
        .expect("registered");
    assert_eq!(h.local.me(&ana.principal()).await, Ok(ana.clone()));

    let patch = ProfilePatch {
        name: Some("Ana Maria".into()),
        phone: Some("+351912345678".into()),
        telegram_chat_id: Some("-42".into()),
        notifications: Some(NotificationPreferences {
            email: false,
            sms: true,
            telegram: true,
            in_app: false,
        }),
    };
    let updated = h
        .acting_as(
            &ana.principal(),
            h.remote.update_me(&ana.principal(), 1, patch),
        )
        .await
        .expect("updated");
    assert_eq!(
        h.acting_as(&ana.principal(), h.remote.me(&ana.principal()))
            .await,
        Ok(updated.clone())
    );
    assert_eq!(h.local.me(&ana.principal()).await, Ok(updated));

    let pair = h
        .remote
        .login(Login {
            email: "ana@example.com".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("login");
    assert_eq!((pair.token_type.as_str(), pair.expires_in), ("Bearer", 900));
    let next = h
        .remote
        .refresh(Refresh {
            refresh_token: pair.refresh_token.clone(),
        })
        .await
        .expect("refresh");
    // The access token from login is what travels, and identity verifies its own token.
    let principal = ana.principal();
    let logout = h.remote.logout(
        &principal,
        Logout {
            refresh_token: Some(next.refresh_token.clone()),
        },
    );
    credential::scope(next.access_token.clone(), logout)
        .await
        .expect("logout");

    let jwks = h.remote.jwks().await.expect("jwks");
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(Ok(jwks), h.local.jwks().await);
    assert_eq!(
        h.remote.openid_configuration().await,
        h.local.openid_configuration().await
    );
}

#[tokio::test]
async fn errors_are_identical_local_and_remote() {
    let h = harness().await;
    let ana = h
        .local
        .register(register("ana@example.com"))
        .await
        .expect("registered");
    let stranger = Principal {
        user_id: UserId::new(),
        role: Role::Guest,
    };
    h.local
        .update_me(&ana.principal(), 1, ProfilePatch::default())
        .await
        .expect("now at version 2");

    macro_rules! same {
        ($who:expr => $call:ident ( $($arg:expr),* ), $code:expr) => {{
            let local = h.local.$call($($arg),*).await;
            let remote = h.acting_as($who, h.remote.$call($($arg),*)).await;
            assert_eq!(remote, local, stringify!($call));
            let err = local.expect_err(stringify!($call));
            assert_eq!(err.code, $code, "{err:?}");
            err
        }};
        ($call:ident ( $($arg:expr),* ), $code:expr) => {{
            let local = h.local.$call($($arg),*).await;
            let remote = h.remote.$call($($arg),*).await;
            assert_eq!(remote, local, stringify!($call));
            let err = local.expect_err(stringify!($call));
            assert_eq!(err.code, $code, "{err:?}");
            err
        }};
    }

    same!(register(register("ANA@example.com")), ErrorCode::Conflict);
    let invalid = same!(
        register(Register {
            email: "nope".into(),
            password: "short".into(),
            name: String::new(),
            role: RegisterRole::Guest,
        }),
        ErrorCode::ValidationFailed
    );
    assert_eq!(invalid.errors.len(), 3);
    for login in [
        Login {
            email: "ana@example.com".into(),
            password: "wrong horse battery staple".into(),
        },
        Login {
            email: "nobody@example.com".into(),
            password: PASSWORD.into(),
        },
    ] {
        same!(login(login.clone()), ErrorCode::Unauthenticated);
    }
    same!(
        refresh(Refresh {
            refresh_token: "spent-or-forged".into()
        }),
        ErrorCode::Unauthenticated
    );
    same!(&stranger => me(&stranger), ErrorCode::NotFound);
    same!(
        &ana.principal() => update_me(&ana.principal(), 1, ProfilePatch::default()),
        ErrorCode::VersionMismatch
    );
    same!(
        &ana.principal() => update_me(
            &ana.principal(),
            2,
            ProfilePatch {
                phone: Some("12".into()),
                ..ProfilePatch::default()
            }
        ),
        ErrorCode::ValidationFailed
    );
}

#[tokio::test]
async fn calls_about_the_caller_need_one_and_roles_are_checked() {
    let h = harness().await;
    let mut raw = IdentityServiceClient::new(h.channel.clone());
    let err = error_from_status(
        &raw.get_me(pb::GetMeRequest {})
            .await
            .expect_err("anonymous"),
    );
    assert_eq!(err.code, ErrorCode::Unauthenticated);
    let err = error_from_status(
        &raw.logout(pb::LogoutRequest {
            refresh_token: None,
        })
        .await
        .expect_err("anonymous"),
    );
    assert_eq!(err.code, ErrorCode::Unauthenticated);

    // Nobody registers as an admin, not even with a hand-made request.
    for role in [pb::Role::Admin, pb::Role::Unspecified] {
        let err = error_from_status(
            &raw.register(pb::RegisterRequest {
                email: "eve@example.com".into(),
                password: PASSWORD.into(),
                name: "Eve".into(),
                role: role.into(),
            })
            .await
            .expect_err("refused"),
        );
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert_eq!(err.errors[0].field, "role");
    }
}

#[tokio::test]
async fn an_unreachable_identity_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = IdentityGrpcClient::connect(
        &addr.to_string(),
        ResilienceConfig::within(Duration::from_secs(2)),
    )
    .await
    .expect("lazy");
    let err = client.jwks().await.expect_err("down");
    assert_eq!(err.code, ErrorCode::Unavailable, "{err:?}");
}

#[tokio::test]
async fn the_caller_is_the_verified_token_only() {
    let h = harness().await;
    let ana = h
        .local
        .register(register("ana@example.com"))
        .await
        .expect("registered");
    let bob = h
        .local
        .register(register("bob@example.com"))
        .await
        .expect("registered");

    // Outside a request scope the remote client has no token to send.
    let err = h.remote.me(&ana.principal()).await.expect_err("no token");
    assert_eq!(err.code, ErrorCode::Unauthenticated, "{err:?}");

    // Forged (another key under the same kid), expired, or not a token at all.
    let forged = TestIssuer::new().token(&ana.principal());
    let expired = h.issuer.token_at(
        &ana.principal(),
        OffsetDateTime::now_utc() - Duration::from_secs(3600),
    );
    for token in [forged, expired, "not-a-jwt".to_owned()] {
        let err = credential::scope(token.clone(), h.remote.me(&ana.principal()))
            .await
            .expect_err("refused");
        assert_eq!(err.code, ErrorCode::Unauthenticated, "{token}: {err:?}");
        let mut request = tonic::Request::new(pb::GetMeRequest {});
        insert_bearer(request.metadata_mut(), &token).expect("metadata");
        let mut raw = IdentityServiceClient::new(h.channel.clone());
        let status = raw.get_me(request).await.expect_err("refused");
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{token}");
    }

    // Bob's token speaks for Bob, whoever the call names or the metadata claims.
    let seen = h
        .acting_as(&bob.principal(), h.remote.me(&ana.principal()))
        .await;
    assert_eq!(seen, Ok(bob.clone()));
    let mut request = tonic::Request::new(pb::GetMeRequest {});
    request.metadata_mut().insert(
        "innkeeper-principal",
        ana.principal().to_header().parse().expect("ascii"),
    );
    insert_bearer(request.metadata_mut(), &h.token(&bob.principal())).expect("metadata");
    let mut raw = IdentityServiceClient::new(h.channel.clone());
    let user = raw.get_me(request).await.expect("bob").into_inner();
    assert_eq!(user.id, bob.id.to_string());
}
