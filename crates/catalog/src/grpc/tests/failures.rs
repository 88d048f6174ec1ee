//! Failures: errors, malformed requests, a catalog down or too slow (callers: `tokens`).

use std::time::{Duration, Instant};

use innkeeper_kernel::{Error, ErrorCode, HotelId};
use innkeeper_platform::grpc::{error_from_status, insert_bearer};
use innkeeper_platform::resilience::ResilienceConfig;
use innkeeper_proto::catalog::v1 as pb;
use innkeeper_proto::common::v1 as common;

use super::Harness;
use super::fake::{SLOW_HOLD, error_for, failing_hold};
use super::fixtures::{caller, ids, money, stay};
use crate::api::{Bed, BedKind, CatalogApi, NewRoomType};
use crate::grpc::CatalogGrpcClient;
use crate::grpc::wire::Wire;

#[tokio::test]
async fn errors_are_identical_local_and_remote_for_every_code() {
    let h = Harness::start().await;
    for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
        let local = h.fake.get_hold(failing_hold(i)).await;
        assert_eq!(local, Err(error_for(code)), "the fake fails with {code}");
        let remote = h.client.get_hold(failing_hold(i)).await;
        assert_eq!(remote, local, "{code}");
    }
}

/// The error a raw request fails with, after checking it is INVALID_ARGUMENT.
fn invalid_argument(result: Result<impl std::fmt::Debug, tonic::Status>) -> Error {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    error_from_status(&status)
}

/// The fields named by a validation error.
fn fields(error: &Error) -> Vec<&str> {
    assert_eq!(error.code, ErrorCode::ValidationFailed, "{error:?}");
    error.errors.iter().map(|e| e.field.as_str()).collect()
}

#[tokio::test]
async fn malformed_requests_fail_naming_the_field() {
    let h = Harness::start().await;
    let ids = ids();

    let error = invalid_argument(
        h.raw()
            .get_hotel(pb::GetHotelRequest {
                id: "not-a-uuid".into(),
            })
            .await,
    );
    assert_eq!(fields(&error), ["id"]);
    assert!(error.message.contains("hotel id"), "{error:?}");

    let bad_stay = pb::PlaceHoldRequest {
        hold_id: ids.hold.to_proto(),
        room_type_id: ids.room_type.to_proto(),
        stay: Some(common::StayDates {
            check_in: "2026-13-01".into(),
            check_out: "2026-12-31".into(),
        }),
        quantity: 1,
        ttl_seconds: 60,
    };
    assert_eq!(
        fields(&invalid_argument(
            h.raw().place_hold(h.as_service(bad_stay.clone())).await
        )),
        ["stay.check_in"]
    );
    let reversed = pb::PlaceHoldRequest {
        stay: Some(common::StayDates {
            check_in: "2026-12-31".into(),
            check_out: "2026-12-31".into(),
        }),
        ..bad_stay.clone()
    };
    assert_eq!(
        fields(&invalid_argument(
            h.raw().place_hold(h.as_service(reversed)).await
        )),
        ["stay.check_out"]
    );
    let no_stay = pb::PlaceHoldRequest {
        stay: None,
        ..bad_stay
    };
    assert_eq!(
        fields(&invalid_argument(
            h.raw().place_hold(h.as_service(no_stay)).await
        )),
        ["stay"]
    );

    let mut bad_enum = tonic::Request::new(pb::CreateRoomRequest {
        hotel_id: ids.hotel.to_proto(),
        room: Some(pb::NewRoom {
            number: "1".into(),
            floor: 1,
            room_type_id: ids.room_type.to_proto(),
            status: 99,
        }),
    });
    insert_bearer(bad_enum.metadata_mut(), &h.token(&caller())).expect("metadata");
    assert_eq!(
        fields(&invalid_argument(h.raw().create_room(bad_enum).await)),
        ["room.status"]
    );

    let mut bad_bed = tonic::Request::new(pb::CreateRoomTypeRequest {
        hotel_id: ids.hotel.to_proto(),
        room_type: Some(
            NewRoomType {
                name: "T".into(),
                description: String::new(),
                capacity: 1,
                beds: vec![Bed {
                    kind: BedKind::Single,
                    count: 1,
                }],
                amenities: vec![],
                base_price: money(1),
            }
            .to_proto(),
        ),
    });
    if let Some(room_type) = bad_bed.get_mut().room_type.as_mut() {
        room_type.beds.push(pb::Bed {
            kind: pb::BedKind::Unspecified.into(),
            count: 1,
        });
    }
    insert_bearer(bad_bed.metadata_mut(), &h.token(&caller())).expect("metadata");
    assert_eq!(
        fields(&invalid_argument(h.raw().create_room_type(bad_bed).await)),
        ["room_type.beds[1].kind"]
    );

    let nowhere = pb::SearchAvailabilityRequest {
        place: None,
        stay: Some(stay().to_proto()),
        ..Default::default()
    };
    assert_eq!(
        fields(&invalid_argument(
            h.raw().search_availability(nowhere).await
        )),
        ["place"]
    );

    assert!(
        h.fake.calls().is_empty(),
        "malformed requests never reach the service"
    );
}

#[test]
fn an_offer_without_a_price_for_every_night_is_malformed() {
    use crate::api::Offer;
    use crate::grpc::wire::At;

    let mut proto = super::fixtures::offer().to_proto();
    assert_eq!(
        Offer::from_proto(proto.clone(), &At::ROOT),
        Ok(super::fixtures::offer())
    );
    proto.night_prices.pop();
    let err = Offer::from_proto(proto, &At::Item(&At::Name("offers"), 3)).expect_err("short");
    assert_eq!(fields(&err), ["offers[3].night_prices"]);
}

#[tokio::test]
async fn a_catalog_nobody_serves_is_unavailable_promptly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("bound");
    drop(listener);
    let remote = CatalogGrpcClient::connect(
        &addr.to_string(),
        ResilienceConfig::within(Duration::from_secs(5)),
    )
    .await
    .expect("lazy");

    let started = Instant::now();
    let error = remote
        .get_hotel(HotelId::new())
        .await
        .expect_err("nobody listens");
    assert_eq!(error, Error::unavailable("catalog unavailable"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_call_past_its_deadline_times_out() {
    let h = Harness::start_with_timeout(Duration::from_millis(300)).await;
    let started = Instant::now();
    let error = h.client.get_hold(SLOW_HOLD).await.expect_err("too slow");
    assert_eq!(error.code, ErrorCode::Timeout, "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    // The channel still serves the next call.
    assert!(h.client.get_hold(ids().hold).await.is_ok());
}

#[tokio::test]
async fn a_catalog_that_stays_down_opens_the_breaker_and_calls_fail_fast_until_it_returns() {
    use std::sync::Arc;

    use innkeeper_kernel::SystemClock;
    use innkeeper_platform::auth::testing::TestIssuer;
    use innkeeper_platform::resilience::{BreakerConfig, BreakerState};

    use super::fake::FakeCatalog;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("bound");
    drop(listener);
    let config = ResilienceConfig {
        max_attempts: 1,
        breaker: BreakerConfig {
            consecutive_failures: 3,
            open_ms: 300,
            half_open_probes: 1,
            ..BreakerConfig::default()
        },
        ..ResilienceConfig::within(Duration::from_secs(2))
    };
    let remote = CatalogGrpcClient::connect(&addr.to_string(), config)
        .await
        .expect("lazy");

    // Three calls reach nobody: the breaker opens.
    for _ in 0..3 {
        let error = remote.get_hotel(HotelId::new()).await.expect_err("down");
        assert_eq!(error, Error::unavailable("catalog unavailable"));
        assert!(!innkeeper_platform::resilience::is_rejected(&error));
    }
    assert_eq!(remote.breaker_state(), BreakerState::Open);

    // While open, calls fail at once without trying.
    let started = Instant::now();
    for _ in 0..20 {
        let error = remote.get_hotel(HotelId::new()).await.expect_err("open");
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert!(
            innkeeper_platform::resilience::is_rejected(&error),
            "{error:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );

    // The catalog comes back on the same address; after the open time one probe goes
    // through, succeeds, and the breaker closes.
    let fake = Arc::new(FakeCatalog::default());
    let issuer = TestIssuer::new();
    let verifier = Arc::new(issuer.verifier(Arc::new(SystemClock)));
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    let api: Arc<dyn CatalogApi> = fake.clone();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(crate::grpc::service(api, verifier))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(remote.breaker_state(), BreakerState::HalfOpen);
    remote.get_hotel(ids().hotel).await.expect("the probe");
    assert_eq!(remote.breaker_state(), BreakerState::Closed);
    remote.get_hotel(ids().hotel).await.expect("closed again");
}
