//! The adapter end to end: a real tonic server on a loopback port in front of the real
//! service (SQLite), called in-process and through the remote client: same values, same errors.

use std::sync::Arc;
use std::time::Duration;

use innkeeper_kernel::{ErrorCode, Principal, Role, SystemClock, UserId};
use innkeeper_platform::db::Database;
use innkeeper_platform::grpc::error_from_status;
use innkeeper_platform::testing::TestDatabase;
use innkeeper_proto::identity::v1 as pb;
use pb::identity_service_client::IdentityServiceClient;
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
    _database: TestDatabase,
}

async fn harness() -> Harness {
    let database = TestDatabase::sqlite().await;
    let Database::Sqlite(db) = database.db.clone() else {
        panic!("sqlite");
    };
    let store = crate::store::sqlite_store(db);
    store.migrate().await.expect("migrate");
    let api: Arc<dyn IdentityApi> = Arc::new(IdentityService::new(
        store,
        Arc::new(SystemClock),
        IdentitySettings::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let server = Server::builder()
        .add_service(service(Arc::clone(&api)))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    // The server lives as long as the test's runtime.
    tokio::spawn(server);
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_lazy();
    let remote = IdentityClient::new(Arc::new(IdentityGrpcClient::new(
        channel.clone(),
        Duration::from_secs(10),
    )));
    Harness {
        local: IdentityClient::new(api),
        remote,
        channel,
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
        .remote
        .update_me(&ana.principal(), 1, patch)
        .await
        .expect("updated");
    assert_eq!(h.remote.me(&ana.principal()).await, Ok(updated.clone()));
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
    h.remote
        .logout(
            &ana.principal(),
            Logout {
                refresh_token: Some(next.refresh_token.clone()),
            },
        )
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
    same!(me(&stranger), ErrorCode::NotFound);
    same!(
        update_me(&ana.principal(), 1, ProfilePatch::default()),
        ErrorCode::VersionMismatch
    );
    same!(
        update_me(
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
    let client = IdentityGrpcClient::connect(&addr.to_string(), Duration::from_secs(2))
        .await
        .expect("lazy");
    let err = client.jwks().await.expect_err("down");
    assert_eq!(err.code, ErrorCode::Unavailable, "{err:?}");
}
