//! Callers over gRPC: the caller of a call is the verified access token it carries, and
//! nothing else. Against the fake (which records the principal each call was made with) and
//! against the real catalog (ownership rules answered by the token's principal).

use std::sync::Arc;
use std::time::Duration;

use innkeeper_kernel::{ErrorCode, Principal, Role, SystemClock, UserId};
use innkeeper_platform::auth::credential;
use innkeeper_platform::auth::testing::TestIssuer;
use innkeeper_platform::grpc::{error_from_status, insert_bearer};
use innkeeper_platform::resilience::ResilienceConfig;
use innkeeper_platform::testing::TestDatabase;
use innkeeper_proto::catalog::v1 as pb;
use time::OffsetDateTime;
use tonic::transport::{Endpoint, Server};

use super::Harness;
use super::fake::Call;
use super::fixtures::{caller, ids};
use crate::CatalogSettings;
use crate::api::{CatalogApi, CatalogClient, HotelPatch, NewHotel};
use crate::grpc::wire::Wire;
use crate::grpc::{CatalogGrpcClient, service};
use crate::module::CatalogModule;

fn list_rooms_request() -> tonic::Request<pb::ListRoomsRequest> {
    tonic::Request::new(pb::ListRoomsRequest {
        hotel_id: ids().hotel.to_proto(),
    })
}

fn principal(role: Role) -> Principal {
    Principal {
        user_id: UserId::new(),
        role,
    }
}

#[tokio::test]
async fn a_caller_bound_call_without_a_token_is_unauthenticated() {
    let h = Harness::start().await;
    // The remote client outside any request scope sends no token.
    let error = h
        .client
        .list_rooms(&caller(), ids().hotel)
        .await
        .expect_err("refused");
    assert_eq!(error.code, ErrorCode::Unauthenticated, "{error:?}");

    let status = h
        .raw()
        .list_rooms(list_rooms_request())
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(error_from_status(&status), error);
    assert!(
        h.fake.calls().is_empty(),
        "refused calls never reach the service"
    );
}

#[tokio::test]
async fn forged_expired_or_malformed_tokens_are_unauthenticated() {
    let h = Harness::start().await;
    let who = caller();
    let forged = TestIssuer::new().token(&who);
    let expired = h
        .issuer
        .token_at(&who, OffsetDateTime::now_utc() - Duration::from_secs(3600));
    let mut tampered = h.token(&who);
    tampered.insert(tampered.len() / 2, 'x');
    for token in [forged, expired, tampered, "not-a-jwt".to_owned()] {
        let remote = credential::scope(token.clone(), h.client.list_rooms(&who, ids().hotel)).await;
        let error = remote.expect_err("refused");
        assert_eq!(error.code, ErrorCode::Unauthenticated, "{token}: {error:?}");

        let mut request = list_rooms_request();
        insert_bearer(request.metadata_mut(), &token).expect("metadata");
        let status = h.raw().list_rooms(request).await.expect_err("refused");
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{token}");
    }
    // The retired header names nobody, even beside nothing else.
    let mut request = list_rooms_request();
    request.metadata_mut().insert(
        "innkeeper-principal",
        Principal::DEVELOPMENT.to_header().parse().expect("ascii"),
    );
    let status = h.raw().list_rooms(request).await.expect_err("refused");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(
        h.fake.calls().is_empty(),
        "refused calls never reach the service"
    );
}

#[tokio::test]
async fn the_caller_is_the_principal_of_the_token() {
    let h = Harness::start().await;
    let hotel = ids().hotel;
    let token_holder = principal(Role::Guest);

    // The principal argument of the remote client is not what the catalog believes.
    h.acting_as(&token_holder, h.client.list_rooms(&caller(), hotel))
        .await
        .expect("listed");
    assert_eq!(h.last_call(), Some(Call::ListRooms(token_holder, hotel)));

    // Nor a principal header beside the token.
    let mut request = list_rooms_request();
    request.metadata_mut().insert(
        "innkeeper-principal",
        Principal::DEVELOPMENT.to_header().parse().expect("ascii"),
    );
    insert_bearer(request.metadata_mut(), &h.token(&token_holder)).expect("metadata");
    h.raw().list_rooms(request).await.expect("listed");
    assert_eq!(h.last_call(), Some(Call::ListRooms(token_holder, hotel)));
}

#[tokio::test]
async fn calls_without_a_caller_need_no_token() {
    let h = Harness::start().await;
    let ids = ids();
    h.client.get_hotel(ids.hotel).await.expect("read");
    let hotels = h.client.list_hotels(Default::default()).await;
    assert!(hotels.is_ok(), "{hotels:?}");
}

#[tokio::test]
async fn holds_are_managed_by_platform_services_only() {
    let h = Harness::start().await;
    let hold = ids().hold;
    let get = || pb::GetHoldRequest {
        id: hold.to_proto(),
    };

    // The client's own service credential (role `service`, from the issuer) is accepted.
    h.client.get_hold(hold).await.expect("the booking service");
    assert_eq!(h.last_call(), Some(Call::GetHold(hold)));
    h.raw()
        .get_hold(h.as_service(get()))
        .await
        .expect("a service token");

    // No token, or a person's token, even an admin's: never reaches the catalog.
    let calls = h.fake.calls().len();
    let status = h.raw().get_hold(get()).await.expect_err("anonymous");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    for role in [Role::Guest, Role::Hotelier, Role::Admin] {
        let mut request = tonic::Request::new(get());
        insert_bearer(request.metadata_mut(), &h.token(&principal(role))).expect("metadata");
        let status = h.raw().get_hold(request).await.expect_err("a person");
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{role:?}");
        assert_eq!(error_from_status(&status).code, ErrorCode::Forbidden);
    }
    // Not even with a person's credential in scope (what a gateway request would carry).
    let guest = principal(Role::Guest);
    let place = pb::PlaceHoldRequest {
        hold_id: hold.to_proto(),
        ..Default::default()
    };
    let mut request = tonic::Request::new(place);
    insert_bearer(request.metadata_mut(), &h.token(&guest)).expect("metadata");
    let status = h.raw().place_hold(request).await.expect_err("a guest");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        h.fake.calls().len(),
        calls,
        "refused calls never reach the service"
    );

    // A client without a service credential cannot make hold calls at all.
    let bare = CatalogGrpcClient::new(
        h.channel.clone(),
        ResilienceConfig::within(Duration::from_secs(5)),
    );
    let error = h
        .acting_as(&guest, bare.get_hold(hold))
        .await
        .expect_err("no service credential");
    assert_eq!(error.code, ErrorCode::Unauthenticated, "{error:?}");
}

fn hotel(name: &str) -> NewHotel {
    NewHotel {
        name: name.into(),
        description: String::new(),
        address: "Rua Augusta 1".into(),
        city: "Lisboa".into(),
        country: "PT".into(),
        location: innkeeper_kernel::GeoPoint {
            lat: 38.71,
            lon: -9.14,
        },
        stars: Some(4),
        currency: super::fixtures::usd(),
        timezone: "Europe/Lisbon".into(),
    }
}

#[tokio::test]
async fn the_real_catalog_applies_its_rules_to_the_token_principal() {
    let database = TestDatabase::sqlite().await;
    let module = CatalogModule::start(
        &database.db,
        Arc::new(SystemClock),
        CatalogSettings::default(),
    )
    .await
    .expect("catalog");
    let issuer = TestIssuer::new();
    let verifier = Arc::new(issuer.verifier(Arc::new(SystemClock)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let api: Arc<dyn CatalogApi> = module.service.clone();
    tokio::spawn(
        Server::builder()
            .add_service(service(api, verifier))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_lazy();
    let remote = CatalogClient::new(Arc::new(CatalogGrpcClient::new(
        channel,
        ResilienceConfig::within(Duration::from_secs(5)),
    )));

    let (owner, other) = (principal(Role::Hotelier), principal(Role::Hotelier));
    let created = credential::scope(
        issuer.token(&owner),
        remote.create_hotel(&owner, hotel("Casa")),
    )
    .await
    .expect("created");
    assert_eq!(created.owner_id, owner.user_id);

    let rename = HotelPatch {
        name: Some("Mine now".into()),
        ..HotelPatch::default()
    };
    // Another hotelier's token: not found, whoever the call claims to be.
    let error = credential::scope(
        issuer.token(&other),
        remote.update_hotel(&owner, created.id, created.version, rename.clone()),
    )
    .await
    .expect_err("not theirs");
    assert_eq!(error.code, ErrorCode::NotFound, "{error:?}");
    // A guest's: cannot change hotels.
    let guest = principal(Role::Guest);
    let error = credential::scope(
        issuer.token(&guest),
        remote.update_hotel(&owner, created.id, created.version, rename.clone()),
    )
    .await
    .expect_err("a guest");
    assert!(
        matches!(error.code, ErrorCode::NotFound | ErrorCode::Forbidden),
        "{error:?}"
    );
    // The owner's own token works.
    let renamed = credential::scope(
        issuer.token(&owner),
        remote.update_hotel(&owner, created.id, created.version, rename),
    )
    .await
    .expect("the owner");
    assert_eq!(renamed.name, "Mine now");
    // Reads need no token.
    assert_eq!(
        remote.get_hotel(created.id).await.map(|d| d.hotel.name),
        Ok("Mine now".to_owned())
    );
}
