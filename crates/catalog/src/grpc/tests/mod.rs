//! The adapter end to end: a real tonic server on a loopback port in front of a fake catalog,
//! called through the remote client and through the raw generated client.

mod failures;
mod fake;
mod fixtures;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use fake::{Call, FakeCatalog};
use fixtures::{caller, ids, money, new_hotel, stay};
use innkeeper_kernel::{GeoPoint, Principal, SystemClock};
use innkeeper_platform::auth::testing::{TEST_SERVICE_SECRET, TestIssuer};
use innkeeper_platform::auth::{ServiceCredential, credential};
use innkeeper_platform::resilience::{BreakerConfig, ResilienceConfig};
use innkeeper_proto::catalog::v1 as pb;
use pb::catalog_service_client::CatalogServiceClient;
use time::macros::date;
use tonic::transport::{Channel, Endpoint, Server};

use super::{CatalogGrpcClient, service};
use crate::api::{
    AvailabilityQuery, Bed, BedKind, CatalogApi, CatalogClient, HoldStatus, HotelAvailabilityQuery,
    HotelPatch, HotelQuery, NewRoom, NewRoomType, Place, PlaceHold, RoomPatch, RoomStatus,
    RoomTypePatch, SetInventory, SetRate, SortOrder,
};

/// A served fake and the clients to reach it.
struct Harness {
    fake: Arc<FakeCatalog>,
    /// The remote client, behind the same handle callers use.
    client: CatalogClient,
    /// A channel for raw generated-client calls.
    channel: Channel,
    /// The issuer whose tokens the server trusts.
    issuer: TestIssuer,
}

impl Harness {
    async fn start() -> Self {
        Self::start_with_timeout(Duration::from_secs(5)).await
    }

    async fn start_with_timeout(timeout: Duration) -> Self {
        let fake = Arc::new(FakeCatalog::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("bound");
        let api: Arc<dyn CatalogApi> = fake.clone();
        let issuer = TestIssuer::new();
        let verifier = Arc::new(issuer.verifier(Arc::new(SystemClock)));
        let server = Server::builder()
            .add_service(service(api, verifier))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
        // The server lives as long as the test's runtime.
        tokio::spawn(server);
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect_lazy();
        let booking =
            ServiceCredential::new("booking", TEST_SERVICE_SECRET, Arc::new(issuer.clone()))
                .expect("credential");
        // The breaker stays closed here: these tests fail calls on purpose, one per error
        // code, and compare each error (the breaker has tests of its own in `failures`).
        let never_open = ResilienceConfig {
            breaker: BreakerConfig {
                consecutive_failures: u32::MAX,
                minimum_calls: u32::MAX,
                ..BreakerConfig::default()
            },
            ..ResilienceConfig::within(timeout)
        };
        let client = CatalogClient::new(Arc::new(
            CatalogGrpcClient::new(channel.clone(), never_open).with_service_credential(booking),
        ));
        Self {
            fake,
            client,
            channel,
            issuer,
        }
    }

    /// A valid access token for `who`.
    fn token(&self, who: &Principal) -> String {
        self.issuer.token(who)
    }

    /// Runs `work` as the gateway runs a request of `who`: inside the scope of their token.
    async fn acting_as<F: std::future::Future>(&self, who: &Principal, work: F) -> F::Output {
        credential::scope(self.token(who), work).await
    }

    /// `message` as the booking service sends it: under its service token.
    fn as_service<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let token = self.token(&Principal::service("booking"));
        innkeeper_platform::grpc::insert_bearer(request.metadata_mut(), &token).expect("bearer");
        request
    }

    fn last_call(&self) -> Option<Call> {
        self.fake.calls().pop()
    }

    fn raw(&self) -> CatalogServiceClient<Channel> {
        CatalogServiceClient::new(self.channel.clone())
    }
}

#[tokio::test]
async fn hotel_methods_round_trip_every_field() {
    let h = Harness::start().await;
    let (who, ids) = (caller(), ids());
    h.acting_as(&who, async {
        assert_eq!(
            h.client.create_hotel(&who, new_hotel()).await,
            h.fake.create_hotel(&who, new_hotel()).await
        );
        assert_eq!(h.last_call(), Some(Call::CreateHotel(who, new_hotel())));

        let details = h.client.get_hotel(ids.hotel).await.expect("found");
        assert_eq!(Ok(details), h.fake.get_hotel(ids.hotel).await);

        let full = HotelPatch {
            name: Some("N".into()),
            description: Some(String::new()),
            address: Some("A".into()),
            city: Some("C".into()),
            country: Some("es".into()),
            location: Some(GeoPoint {
                lat: 1.5,
                lon: -2.25,
            }),
            stars: Some(0),
            timezone: Some("UTC".into()),
        };
        for patch in [full, HotelPatch::default()] {
            let remote = h
                .client
                .update_hotel(&who, ids.hotel, -3, patch.clone())
                .await;
            assert_eq!(
                h.last_call(),
                Some(Call::UpdateHotel(who, ids.hotel, -3, patch.clone()))
            );
            assert_eq!(
                remote,
                h.fake.update_hotel(&who, ids.hotel, -3, patch).await
            );
        }

        let query = HotelQuery {
            city: Some("Lisboa".into()),
            near: Some(GeoPoint {
                lat: 38.7,
                lon: -9.1,
            }),
            radius_km: Some(12.5),
            q: Some("pool".into()),
            limit: Some(0),
            cursor: Some("c1".into()),
        };
        for query in [query, HotelQuery::default()] {
            let remote = h.client.list_hotels(query.clone()).await;
            assert_eq!(h.last_call(), Some(Call::ListHotels(query.clone())));
            assert_eq!(remote, h.fake.list_hotels(query).await);
        }
    })
    .await;
}

#[tokio::test]
async fn room_methods_round_trip_every_field() {
    let h = Harness::start().await;
    let (who, ids) = (caller(), ids());
    h.acting_as(&who, async {
        let new_type = NewRoomType {
            name: "Twin".into(),
            description: String::new(),
            capacity: 0,
            beds: vec![
                Bed {
                    kind: BedKind::Twin,
                    count: 2,
                },
                Bed {
                    kind: BedKind::Bunk,
                    count: 0,
                },
            ],
            amenities: vec![" Wifi ".into()],
            base_price: money(-5),
        };
        let remote = h
            .client
            .create_room_type(&who, ids.hotel, new_type.clone())
            .await;
        assert_eq!(
            h.last_call(),
            Some(Call::CreateRoomType(who, ids.hotel, new_type.clone()))
        );
        assert_eq!(
            remote,
            h.fake.create_room_type(&who, ids.hotel, new_type).await
        );

        let full = RoomTypePatch {
            name: Some("X".into()),
            description: Some("Y".into()),
            capacity: Some(4),
            beds: Some(vec![]),
            amenities: Some(vec![]),
            base_price: Some(money(1)),
        };
        let some_beds = RoomTypePatch {
            beds: Some(vec![Bed {
                kind: BedKind::King,
                count: 1,
            }]),
            ..RoomTypePatch::default()
        };
        for patch in [full, some_beds, RoomTypePatch::default()] {
            let remote = h
                .client
                .update_room_type(&who, ids.hotel, ids.room_type, 9, patch.clone())
                .await;
            assert_eq!(
                h.last_call(),
                Some(Call::UpdateRoomType(
                    who,
                    ids.hotel,
                    ids.room_type,
                    9,
                    patch.clone()
                ))
            );
            assert_eq!(
                remote,
                h.fake
                    .update_room_type(&who, ids.hotel, ids.room_type, 9, patch)
                    .await
            );
        }

        let new_room = NewRoom {
            number: "12".into(),
            floor: -2,
            room_type_id: ids.room_type,
            status: RoomStatus::Dirty,
        };
        let remote = h
            .client
            .create_room(&who, ids.hotel, new_room.clone())
            .await;
        assert_eq!(
            h.last_call(),
            Some(Call::CreateRoom(who, ids.hotel, new_room.clone()))
        );
        assert_eq!(remote, h.fake.create_room(&who, ids.hotel, new_room).await);

        let full = RoomPatch {
            number: Some("13".into()),
            floor: Some(0),
            room_type_id: Some(ids.room_type),
            status: Some(RoomStatus::OutOfService),
        };
        for patch in [full, RoomPatch::default()] {
            let remote = h
                .client
                .update_room(&who, ids.hotel, ids.room, 1, patch.clone())
                .await;
            assert_eq!(
                h.last_call(),
                Some(Call::UpdateRoom(who, ids.hotel, ids.room, 1, patch.clone()))
            );
            assert_eq!(
                remote,
                h.fake
                    .update_room(&who, ids.hotel, ids.room, 1, patch)
                    .await
            );
        }

        let remote = h.client.list_rooms(&who, ids.hotel).await;
        assert_eq!(h.last_call(), Some(Call::ListRooms(who, ids.hotel)));
        assert_eq!(remote, h.fake.list_rooms(&who, ids.hotel).await);
    })
    .await;
}

#[tokio::test]
async fn rate_inventory_and_availability_methods_round_trip_every_field() {
    let h = Harness::start().await;
    let (who, ids) = (caller(), ids());
    h.acting_as(&who, async {
        for min_stay in [Some(3), None] {
            let rate = SetRate {
                from: date!(2026 - 12 - 01),
                to: date!(2027 - 01 - 01),
                price: money(15_000),
                min_stay,
            };
            let remote = h
                .client
                .set_rate(&who, ids.hotel, ids.room_type, rate.clone())
                .await;
            assert_eq!(
                h.last_call(),
                Some(Call::SetRate(who, ids.hotel, ids.room_type, rate.clone()))
            );
            assert_eq!(
                remote,
                h.fake.set_rate(&who, ids.hotel, ids.room_type, rate).await
            );
        }

        let inventory = SetInventory {
            from: date!(2027 - 02 - 28),
            to: date!(2027 - 02 - 01),
            total: 0,
        };
        let remote = h
            .client
            .set_inventory(&who, ids.hotel, ids.room_type, inventory.clone())
            .await;
        assert_eq!(
            h.last_call(),
            Some(Call::SetInventory(
                who,
                ids.hotel,
                ids.room_type,
                inventory.clone()
            ))
        );
        assert_eq!(
            remote,
            h.fake
                .set_inventory(&who, ids.hotel, ids.room_type, inventory)
                .await
        );

        let (from, to) = (date!(2026 - 12 - 30), date!(2027 - 01 - 01));
        let remote = h.client.get_inventory(&who, ids.hotel, from, to).await;
        assert_eq!(
            h.last_call(),
            Some(Call::GetInventory(who, ids.hotel, from, to))
        );
        assert_eq!(
            remote,
            h.fake.get_inventory(&who, ids.hotel, from, to).await
        );

        let by_city = AvailabilityQuery {
            place: Place::City("Lisboa".into()),
            stay: stay(),
            guests: 3,
            rooms: 2,
            max_price: Some(70_000),
            sort: SortOrder::Price,
            limit: 20,
        };
        let near = AvailabilityQuery {
            place: Place::Near {
                point: GeoPoint {
                    lat: 41.15,
                    lon: -8.61,
                },
                radius_km: 7.5,
            },
            max_price: None,
            sort: SortOrder::Distance,
            ..by_city.clone()
        };
        for query in [by_city, near] {
            let remote = h.client.search_availability(query.clone()).await;
            assert_eq!(h.last_call(), Some(Call::SearchAvailability(query.clone())));
            assert_eq!(remote, h.fake.search_availability(query).await);
        }

        let query = HotelAvailabilityQuery {
            hotel_id: ids.hotel,
            stay: stay(),
            guests: 1,
            rooms: 1,
        };
        let remote = h.client.hotel_availability(query.clone()).await;
        assert_eq!(h.last_call(), Some(Call::HotelAvailability(query.clone())));
        assert_eq!(remote, h.fake.hotel_availability(query).await);

        let remote = h.client.quote(ids.room_type, stay(), 2).await;
        assert_eq!(h.last_call(), Some(Call::Quote(ids.room_type, stay(), 2)));
        assert_eq!(remote, h.fake.quote(ids.room_type, stay(), 2).await);
    })
    .await;
}

#[tokio::test]
async fn hold_methods_round_trip_every_field() {
    let h = Harness::start().await;
    let ids = ids();

    let place = PlaceHold {
        hold_id: ids.hold,
        room_type_id: ids.room_type,
        stay: stay(),
        quantity: 2,
        ttl_seconds: 900,
    };
    let remote = h.client.place_hold(place.clone()).await;
    assert_eq!(h.last_call(), Some(Call::PlaceHold(place.clone())));
    assert_eq!(remote, h.fake.place_hold(place).await);

    let confirmed = h.client.confirm_hold(ids.hold).await;
    assert_eq!(h.last_call(), Some(Call::ConfirmHold(ids.hold)));
    assert_eq!(
        confirmed.as_ref().map(|hold| hold.status),
        Ok(HoldStatus::Confirmed)
    );
    assert_eq!(confirmed, h.fake.confirm_hold(ids.hold).await);

    let released = h.client.release_hold(ids.hold).await;
    assert_eq!(h.last_call(), Some(Call::ReleaseHold(ids.hold)));
    assert_eq!(released, h.fake.release_hold(ids.hold).await);

    let got = h.client.get_hold(ids.hold).await;
    assert_eq!(h.last_call(), Some(Call::GetHold(ids.hold)));
    assert_eq!(got, h.fake.get_hold(ids.hold).await);
}
