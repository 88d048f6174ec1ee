//! The adapter end to end: a real tonic server on a loopback port in front of the real booking
//! service (SQLite, over a catalog on its own database), called in-process and through the
//! remote client: same values, same errors, same replays. The server trusts a test issuer's
//! tokens; remote calls run inside the caller's credential scope, as the gateway runs them.
//! The catalog is in-process, except in the split shape's test, where the booking service
//! reaches it over gRPC too (served by the same server).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use innkeeper_catalog::CatalogSettings;
use innkeeper_catalog::api::{
    CatalogApi as _, CatalogClient, NewHotel, NewRoom, NewRoomType, RoomStatus,
};
use innkeeper_catalog::grpc::CatalogGrpcClient;
use innkeeper_catalog::module::CatalogModule;
use innkeeper_events::{ConsumerSettings, Delivery, Dispatcher, Outbox};
use innkeeper_kernel::{
    Currency, Error, ErrorCode, GeoPoint, HotelId, ManualClock, Principal, Role, RoomTypeId,
    SystemClock, UserId,
};
use innkeeper_platform::auth::ServiceCredential;
use innkeeper_platform::auth::credential;
use innkeeper_platform::auth::testing::{TEST_SERVICE_SECRET, TestIssuer};
use innkeeper_platform::grpc::{error_from_status, insert_bearer};
use innkeeper_platform::resilience::ResilienceConfig;
use innkeeper_platform::testing::TestDatabase;
use innkeeper_proto::booking::v1 as pb;
use pb::booking_service_client::BookingServiceClient;
use time::Duration;
use tonic::transport::{Channel, Endpoint, Server};

use super::{BookingGrpcClient, REPLAYED_METADATA, service};
use crate::api::*;
use crate::contracts::{PAYMENT_TOPIC, PaymentSucceeded};
use crate::fixtures::{CHECK_IN, T0, eur, guest};
use crate::module::BookingModule;
use crate::{BookingSettings, PaymentOutcomes};

/// Double rooms of the hotel (the suite has one).
const DOUBLES: u32 = 4;

struct Harness {
    local: BookingClient,
    remote: BookingClient,
    channel: Channel,
    issuer: TestIssuer,
    payments: Arc<PaymentOutcomes>,
    clock: ManualClock,
    owner: Principal,
    hotel_id: HotelId,
    room_type_id: RoomTypeId,
    suite_id: RoomTypeId,
    booking_db: TestDatabase,
    _catalog_db: TestDatabase,
}

fn principal(role: Role) -> Principal {
    Principal {
        user_id: UserId::new(),
        role,
    }
}

/// A hotel with [`DOUBLES`] double rooms and one suite, its catalog, the booking service over
/// the in-process catalog, and that service served over gRPC on a loopback port.
async fn harness() -> Harness {
    harness_reaching(Reach::InProcess).await
}

/// How the booking service reaches the catalog.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reach {
    /// It calls the catalog service directly (the embedded shape).
    InProcess,
    /// It calls the catalog's gRPC server (the split shape).
    Grpc,
}

/// [`harness`], with the booking service reaching the catalog as `reach` says.
async fn harness_reaching(reach: Reach) -> Harness {
    let (booking_db, catalog_db) = (TestDatabase::sqlite().await, TestDatabase::sqlite().await);
    let clock = ManualClock::new(T0);
    let catalog = CatalogModule::open(
        &catalog_db.db,
        Arc::new(clock.clone()),
        CatalogSettings::default(),
    )
    .await
    .expect("catalog")
    .service;
    let owner = principal(Role::Hotelier);
    let hotel = catalog
        .create_hotel(
            &owner,
            NewHotel {
                name: "Casa Azul".to_owned(),
                description: String::new(),
                address: "Rua Augusta 1".to_owned(),
                city: "Lisbon".to_owned(),
                country: "PT".to_owned(),
                location: GeoPoint {
                    lat: 38.7223,
                    lon: -9.1393,
                },
                stars: Some(4),
                currency: Currency::EUR,
                timezone: "Europe/Lisbon".to_owned(),
            },
        )
        .await
        .expect("hotel");
    let mut types = Vec::new();
    for (name, capacity, price, rooms) in [("Double", 2, 12_900, DOUBLES), ("Suite", 4, 30_000, 1)]
    {
        let room_type = catalog
            .create_room_type(
                &owner,
                hotel.id,
                NewRoomType {
                    name: name.to_owned(),
                    description: String::new(),
                    capacity,
                    beds: Vec::new(),
                    amenities: Vec::new(),
                    base_price: eur(price),
                },
            )
            .await
            .expect("room type");
        for n in 0..rooms {
            catalog
                .create_room(
                    &owner,
                    hotel.id,
                    NewRoom {
                        number: format!("{name}-{n}"),
                        floor: 1,
                        room_type_id: room_type.id,
                        status: RoomStatus::Ready,
                    },
                )
                .await
                .expect("room");
        }
        types.push(room_type.id);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_lazy();
    let catalog_api: Arc<dyn innkeeper_catalog::api::CatalogApi> = catalog;
    // One issuer the servers trust; the booking service's holds go under its service token.
    let issuer = TestIssuer::new();
    let catalog_client = match reach {
        Reach::InProcess => CatalogClient::new(Arc::clone(&catalog_api)),
        Reach::Grpc => {
            let credential =
                ServiceCredential::new("booking", TEST_SERVICE_SECRET, Arc::new(issuer.clone()))
                    .expect("credential");
            CatalogClient::new(Arc::new(
                CatalogGrpcClient::new(
                    channel.clone(),
                    ResilienceConfig::within(StdDuration::from_secs(10)),
                )
                .with_service_credential(credential),
            ))
        }
    };
    let module = BookingModule::start(
        &booking_db.db,
        catalog_client,
        None,
        Arc::new(clock.clone()),
        BookingSettings::default(),
    )
    .await
    .expect("booking module");
    let api: Arc<dyn BookingApi> = module.service.clone();

    let verifier = Arc::new(issuer.verifier(Arc::new(SystemClock)));
    let mut server = Server::builder().add_service(service(Arc::clone(&api), verifier.clone()));
    if reach == Reach::Grpc {
        server = server.add_service(innkeeper_catalog::grpc::service(catalog_api, verifier));
    }
    let server = server.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    // The server lives as long as the test's runtime.
    tokio::spawn(server);
    let remote = BookingClient::new(Arc::new(BookingGrpcClient::new(
        channel.clone(),
        ResilienceConfig::within(StdDuration::from_secs(10)),
    )));
    Harness {
        local: BookingClient::new(api),
        remote,
        channel,
        issuer,
        payments: module.payment_outcomes,
        clock,
        owner,
        hotel_id: hotel.id,
        room_type_id: types[0],
        suite_id: types[1],
        booking_db,
        _catalog_db: catalog_db,
    }
}

impl Harness {
    /// Runs `work` as the gateway runs a request of `who`: inside the scope of their token.
    async fn acting_as<F: std::future::Future>(&self, who: &Principal, work: F) -> F::Output {
        credential::scope(self.issuer.token(who), work).await
    }

    /// Two nights from [`CHECK_IN`] for two guests in one double room.
    fn request(&self) -> NewBooking {
        NewBooking {
            hotel_id: self.hotel_id,
            room_type_id: self.room_type_id,
            check_in: CHECK_IN,
            check_out: CHECK_IN + Duration::days(2),
            guests: 2,
            rooms: None,
            guest_name: "Ana Lima".to_owned(),
            guest_email: Some("ana@example.test".to_owned()),
            special_requests: Some("a quiet room".to_owned()),
        }
    }

    /// A booking of `who`, made locally.
    async fn booking(&self, who: &Principal) -> Booking {
        self.local
            .create(who, self.request(), None)
            .await
            .result
            .expect("create")
    }

    /// A booking of a fresh guest, paid (as the payment service's event confirms it).
    async fn paid_booking(&self) -> (Principal, Booking) {
        let who = guest();
        let booking = self.booking(&who).await;
        const PAYMENT: Outbox = Outbox::new("/innkeeper/payment", PAYMENT_TOPIC);
        let event = PAYMENT
            .event(
                booking.id,
                &PaymentSucceeded {
                    payment_id: uuid::Uuid::now_v7(),
                    booking_id: booking.id.as_uuid(),
                    amount: booking.price.total,
                    late: false,
                },
            )
            .expect("event");
        let dispatcher = Dispatcher::new(
            self.payments.clone(),
            self.booking_db.db.clone(),
            ConsumerSettings {
                max_attempts: 1,
                backoff: StdDuration::from_millis(1),
                ..ConsumerSettings::default()
            },
        );
        assert_eq!(
            dispatcher.deliver(&event).await.expect("payment"),
            Delivery::Handled
        );
        let paid = self.local.get(&who, booking.id).await.expect("paid");
        assert_eq!(paid.status, BookingStatus::Confirmed);
        (who, paid)
    }

    /// A raw client of the served booking service.
    fn raw(&self) -> BookingServiceClient<Channel> {
        BookingServiceClient::new(self.channel.clone())
    }

    /// A raw request carrying `who`'s token.
    fn signed<T>(&self, who: &Principal, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        insert_bearer(request.metadata_mut(), &self.issuer.token(who)).expect("metadata");
        request
    }
}

fn key(text: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey::parse(text).expect("key"))
}

/// `remote`'s answer is a fresh success equal to what the service now holds.
async fn fresh_and_stored(h: &Harness, who: &Principal, remote: Idempotent<Booking>) -> Booking {
    assert!(!remote.replayed, "a first answer is not a replay");
    let booking = remote.result.expect("remote change");
    assert_eq!(h.local.get(who, booking.id).await, Ok(booking.clone()));
    booking
}

#[tokio::test]
async fn every_operation_answers_the_same_value_remote_and_local() {
    let h = harness().await;
    let ana = guest();
    let desk = h.owner;

    // create (keyed), get, get_by_reference, list, history.
    let first = h
        .acting_as(&ana, h.remote.create(&ana, h.request(), key("book-1")))
        .await;
    let booking = fresh_and_stored(&h, &ana, first).await;
    assert_eq!(booking.status, BookingStatus::PendingPayment);
    assert_eq!(booking.special_requests.as_deref(), Some("a quiet room"));
    assert_eq!(
        h.acting_as(&ana, h.remote.get(&ana, booking.id)).await,
        Ok(booking.clone())
    );
    let lower = booking.reference.as_str().to_ascii_lowercase();
    assert_eq!(
        h.acting_as(&ana, h.remote.get_by_reference(&ana, &lower))
            .await,
        h.local.get_by_reference(&ana, &lower).await
    );
    // The repeat is replayed, remotely and locally alike.
    let replay = h
        .acting_as(&ana, h.remote.create(&ana, h.request(), key("book-1")))
        .await;
    assert_eq!(
        replay,
        Idempotent {
            result: Ok(booking.clone()),
            replayed: true
        }
    );
    assert_eq!(
        h.local.create(&ana, h.request(), key("book-1")).await,
        replay
    );

    // modify: the guest, with If-Match.
    let patch = BookingPatch {
        guests: Some(1),
        check_out: Some(CHECK_IN + Duration::days(3)),
        ..BookingPatch::default()
    };
    let modified = h
        .acting_as(
            &ana,
            h.remote
                .modify(&ana, booking.id, Some(1), patch, key("m-1")),
        )
        .await;
    let modified = fresh_and_stored(&h, &ana, modified).await;
    assert_eq!((modified.guests, modified.price.nights.len()), (1, 3));

    // cancel, with a reason, by the guest.
    let bea = guest();
    let doomed = h.booking(&bea).await;
    let cancelled = h
        .acting_as(
            &bea,
            h.remote
                .cancel(&bea, doomed.id, Some(1), Some("plans changed".into()), None),
        )
        .await;
    let cancelled = fresh_and_stored(&h, &bea, cancelled).await;
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert!(cancelled.refund.is_some());

    // upgrade, by the hotel.
    let (carl, paid) = h.paid_booking().await;
    let upgraded = h
        .acting_as(
            &desk,
            h.remote.upgrade(&desk, paid.id, h.suite_id, Some(2), None),
        )
        .await;
    let upgraded = fresh_and_stored(&h, &carl, upgraded).await;
    assert_eq!(
        upgraded.upgrade,
        Some(UpgradeNote {
            from_room_type_id: h.room_type_id,
            price_rule: PriceRule::Complimentary
        })
    );

    // The front desk, from the check-in day: check-in, check-out, no-show.
    let (dina, stay) = h.paid_booking().await;
    let (_, absent) = h.paid_booking().await;
    h.clock.advance(CHECK_IN - T0.date());
    let inside = h
        .acting_as(&desk, h.remote.check_in(&desk, stay.id, None, None, None))
        .await;
    let inside = fresh_and_stored(&h, &dina, inside).await;
    assert_eq!(inside.status, BookingStatus::CheckedIn);
    assert_eq!(inside.room_ids.len(), 1);
    let out = h
        .acting_as(&desk, h.remote.check_out(&desk, stay.id, Some(3), None))
        .await;
    assert_eq!(
        fresh_and_stored(&h, &dina, out).await.status,
        BookingStatus::CheckedOut
    );
    let gone = h
        .acting_as(&desk, h.remote.no_show(&desk, absent.id, None, key("ns")))
        .await;
    assert_eq!(
        fresh_and_stored(&h, &desk, gone).await.status,
        BookingStatus::NoShow
    );

    // Histories carry every event's data exactly.
    for (who, id) in [
        (&ana, booking.id),
        (&bea, doomed.id),
        (&carl, paid.id),
        (&dina, stay.id),
    ] {
        let local = h.local.history(who, id).await.expect("history");
        assert!(local.len() >= 2, "{local:?}");
        assert_eq!(h.acting_as(who, h.remote.history(who, id)).await, Ok(local));
    }

    // Lists, page by page with the cursor, with every filter.
    let queries = [
        (ana, BookingQuery::default()),
        (
            desk,
            BookingQuery {
                hotel_id: Some(h.hotel_id),
                limit: Some(2),
                ..BookingQuery::default()
            },
        ),
        (
            desk,
            BookingQuery {
                hotel_id: Some(h.hotel_id),
                status: Some(BookingStatus::Cancelled),
                from: Some(CHECK_IN),
                to: Some(CHECK_IN + Duration::days(1)),
                ..BookingQuery::default()
            },
        ),
    ];
    for (who, mut query) in queries {
        let mut pages = 0;
        loop {
            let local = h.local.list(&who, query.clone()).await.expect("list");
            let remote = h.acting_as(&who, h.remote.list(&who, query.clone())).await;
            assert_eq!(remote, Ok(local.clone()), "{query:?}");
            assert!(!local.items.is_empty(), "{query:?}");
            pages += 1;
            match local.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        if query.limit == Some(2) {
            assert!(pages >= 2, "the hotel's five bookings take pages");
        }
    }
}

#[tokio::test]
async fn errors_are_identical_local_and_remote() {
    let h = harness().await;
    let ana = guest();
    let desk = h.owner;
    let booking = h.booking(&ana).await;

    // Calls `$call` locally and remotely (as `$who`), asserts the answers are equal and the
    // local one is an error with `$code`; gives the error.
    macro_rules! same {
        ($who:expr => $call:ident ( $($arg:expr),* ), $code:expr) => {{
            let local = h.local.$call($who, $(($arg).clone()),*).await;
            let remote = h.acting_as($who, h.remote.$call($who, $(($arg).clone()),*)).await;
            assert_eq!(remote, local, stringify!($call));
            let err = Outcome::error(local).expect(stringify!($call));
            assert_eq!(err.code, $code, "{err:?}");
            err
        }};
    }

    // not_found: no such booking, or not the caller's.
    let (nowhere, no_type) = (BookingId::new(), RoomTypeId::new());
    same!(&ana => get(nowhere), ErrorCode::NotFound);
    let stranger = guest();
    same!(&stranger => get(booking.id), ErrorCode::NotFound);
    same!(&ana => get_by_reference("INK-AAAAAA"), ErrorCode::NotFound);
    same!(&ana => history(nowhere), ErrorCode::NotFound);
    same!(&ana => cancel(nowhere, None, None, None), ErrorCode::NotFound);
    // sold_out, saying what is left.
    let five = NewBooking {
        rooms: Some(DOUBLES + 1),
        ..h.request()
    };
    let err = same!(&ana => create(five.clone(), None), ErrorCode::SoldOut);
    assert!(err.message.contains("Double has only 3 room(s)"), "{err:?}");
    // version_mismatch, precondition_required, forbidden, invalid_state.
    let patch = BookingPatch {
        guests: Some(1),
        ..BookingPatch::default()
    };
    same!(&ana => modify(booking.id, Some(7), patch.clone(), None), ErrorCode::VersionMismatch);
    same!(&ana => modify(booking.id, None, patch.clone(), None), ErrorCode::PreconditionRequired);
    same!(&ana => check_in(booking.id, None, None, None), ErrorCode::Forbidden);
    same!(&desk => check_in(booking.id, None, None, None), ErrorCode::InvalidState);
    same!(&desk => no_show(booking.id, None, None), ErrorCode::InvalidState);
    same!(&desk => check_out(booking.id, None, None), ErrorCode::InvalidState);
    same!(&ana => upgrade(booking.id, h.suite_id, None, None), ErrorCode::Forbidden);
    let err = same!(
        &desk => upgrade(booking.id, no_type, None, None),
        ErrorCode::ValidationFailed
    );
    assert_eq!(err.errors[0].field, "room_type_id");
    // Validation in the service, every field named.
    let invalid = NewBooking {
        guests: 0,
        guest_name: String::new(),
        check_out: CHECK_IN,
        ..h.request()
    };
    let err = same!(&ana => create(invalid, None), ErrorCode::ValidationFailed);
    assert!(err.errors.len() >= 2, "{err:?}");
    let err = same!(
        &desk => list(BookingQuery { limit: Some(0), ..BookingQuery::default() }),
        ErrorCode::ValidationFailed
    );
    assert!(!err.errors.is_empty(), "{err:?}");

    // A keyed failure: remote first, then its replays remote and local, all one answer.
    let first = h
        .acting_as(&ana, h.remote.create(&ana, five.clone(), key("five")))
        .await;
    assert!(!first.replayed);
    let err = first.result.expect_err("sold out");
    assert_eq!(err.code, ErrorCode::SoldOut);
    let stored = Idempotent {
        result: Err(err),
        replayed: true,
    };
    assert_eq!(
        h.acting_as(&ana, h.remote.create(&ana, five.clone(), key("five")))
            .await,
        stored
    );
    assert_eq!(
        h.local.create(&ana, five.clone(), key("five")).await,
        stored
    );
    // The replay travels as the same status with the replay marked in its metadata.
    let raw = h
        .raw()
        .create_booking(h.signed(
            &ana,
            pb::CreateBookingRequest {
                booking: Some(super::wire::Wire::to_proto(&five)),
                idempotency_key: Some("five".into()),
            },
        ))
        .await
        .expect_err("stored error");
    assert_eq!(raw.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        raw.metadata()
            .get(REPLAYED_METADATA)
            .map(|v| v.to_str().ok()),
        Some(Some("true"))
    );
    // A fresh error carries no mark.
    let raw = h
        .raw()
        .get_booking(h.signed(
            &ana,
            pb::GetBookingRequest {
                id: BookingId::new().to_string(),
            },
        ))
        .await
        .expect_err("not found");
    assert!(raw.metadata().get(REPLAYED_METADATA).is_none());
    // The same key for another request.
    let reused = same!(&ana => create(h.request(), key("five")), ErrorCode::ValidationFailed);
    assert_eq!(reused.code.http_status(), 422);
    // A keyed cancel replays its success; a second key meets the cancelled booking.
    let cancelled = h
        .acting_as(
            &ana,
            h.remote.cancel(&ana, booking.id, None, None, key("c-1")),
        )
        .await;
    let cancelled = fresh_and_stored(&h, &ana, cancelled).await;
    assert_eq!(
        h.local
            .cancel(&ana, booking.id, None, None, key("c-1"))
            .await,
        Idempotent {
            result: Ok(cancelled),
            replayed: true
        }
    );
    // A second key meets the cancelled booking: a stored error, which a remote repeat of the
    // local request gets back, marked as a replay.
    let refused = h
        .local
        .cancel(&ana, booking.id, None, None, key("c-2"))
        .await;
    assert!(!refused.replayed);
    assert_eq!(
        refused.result.clone().expect_err("cancelled").code,
        ErrorCode::InvalidState
    );
    assert_eq!(
        h.acting_as(
            &ana,
            h.remote.cancel(&ana, booking.id, None, None, key("c-2"))
        )
        .await,
        Idempotent {
            result: refused.result,
            replayed: true
        }
    );
}

/// A call's outcome, plain or idempotent: its error, if it failed.
trait Outcome {
    fn error(self) -> Option<Error>;
}

impl<T> Outcome for Result<T, Error> {
    fn error(self) -> Option<Error> {
        self.err()
    }
}

impl<T> Outcome for Idempotent<T> {
    fn error(self) -> Option<Error> {
        self.result.err()
    }
}

#[tokio::test]
async fn in_the_split_shape_the_callers_token_reaches_the_catalog_too() {
    // Check-in asks the catalog for the hotel's rooms as the caller: over gRPC, the booking
    // server must pass the desk's token on, as the gateway passed it to the booking service.
    let h = harness_reaching(Reach::Grpc).await;
    let desk = h.owner;
    let (ana, paid) = h.paid_booking().await;
    h.clock.advance(CHECK_IN - T0.date());
    let inside = h
        .acting_as(
            &desk,
            h.remote.check_in(&desk, paid.id, None, None, key("in")),
        )
        .await;
    let inside = fresh_and_stored(&h, &ana, inside).await;
    assert_eq!(inside.status, BookingStatus::CheckedIn);
    assert_eq!(inside.room_ids.len(), 1);
    // In-process, without a request scope, the remote catalog refuses to list the rooms: the
    // token really is what crossed the wire.
    let (_, other) = h.paid_booking().await;
    let err = h
        .local
        .check_in(&desk, other.id, None, None, None)
        .await
        .result
        .expect_err("no token for the catalog");
    assert_eq!(err.code, ErrorCode::Unauthenticated, "{err:?}");
    // Everything else of the booking's life works across both hops.
    let out = h
        .acting_as(&desk, h.remote.check_out(&desk, paid.id, None, None))
        .await;
    assert_eq!(
        fresh_and_stored(&h, &ana, out).await.status,
        BookingStatus::CheckedOut
    );
}

#[tokio::test]
async fn malformed_requests_fail_naming_the_field() {
    let h = harness().await;
    let ana = guest();
    let booking = h.booking(&ana).await;
    let id = booking.id.to_string();
    let valid = super::wire::Wire::to_proto(&h.request());

    let field_of = |status: tonic::Status| {
        let err = error_from_status(&status);
        assert_eq!(err.code, ErrorCode::ValidationFailed, "{err:?}");
        err.errors[0].field.clone()
    };
    let mut raw = h.raw();
    let status = raw
        .get_booking(h.signed(&ana, pb::GetBookingRequest { id: "nope".into() }))
        .await
        .expect_err("bad id");
    assert_eq!(field_of(status), "id");
    let status = raw
        .create_booking(h.signed(
            &ana,
            pb::CreateBookingRequest {
                booking: None,
                idempotency_key: None,
            },
        ))
        .await
        .expect_err("no booking");
    assert_eq!(field_of(status), "booking");
    let status = raw
        .create_booking(h.signed(
            &ana,
            pb::CreateBookingRequest {
                booking: Some(pb::NewBooking {
                    check_in: "2027-02-30".into(),
                    ..valid.clone()
                }),
                idempotency_key: None,
            },
        ))
        .await
        .expect_err("bad date");
    assert_eq!(field_of(status), "booking.check_in");
    let status = raw
        .create_booking(h.signed(
            &ana,
            pb::CreateBookingRequest {
                booking: Some(valid.clone()),
                idempotency_key: Some("two words".into()),
            },
        ))
        .await
        .expect_err("bad key");
    assert_eq!(field_of(status), "idempotency_key");
    let status = raw
        .modify_booking(h.signed(
            &ana,
            pb::ModifyBookingRequest {
                id: id.clone(),
                if_match: Some(1),
                patch: Some(pb::BookingPatch {
                    room_type_id: Some("suite".into()),
                    ..pb::BookingPatch::default()
                }),
                idempotency_key: None,
            },
        ))
        .await
        .expect_err("bad room type");
    assert_eq!(field_of(status), "patch.room_type_id");
    let status = raw
        .check_in(h.signed(
            &h.owner,
            pb::CheckInRequest {
                id: id.clone(),
                room_id: Some("101".into()),
                if_match: None,
                idempotency_key: None,
            },
        ))
        .await
        .expect_err("bad room");
    assert_eq!(field_of(status), "room_id");
    let status = raw
        .list_bookings(h.signed(
            &ana,
            pb::ListBookingsRequest {
                status: Some(99),
                ..pb::ListBookingsRequest::default()
            },
        ))
        .await
        .expect_err("bad status");
    assert_eq!(field_of(status), "status");
    // Nothing of it ran: the booking is as it was, and no other was made.
    assert_eq!(h.local.get(&ana, booking.id).await, Ok(booking.clone()));
    let mine = h
        .local
        .list(&ana, BookingQuery::default())
        .await
        .expect("list");
    assert_eq!(mine.items, vec![booking]);
}

#[tokio::test]
async fn the_caller_is_the_verified_token_only() {
    let h = harness().await;
    let ana = guest();
    let booking = h.booking(&ana).await;

    // Outside a request scope the remote client has no token to send.
    let err = h.remote.get(&ana, booking.id).await.expect_err("no token");
    assert_eq!(err.code, ErrorCode::Unauthenticated, "{err:?}");
    let answer = h.remote.create(&ana, h.request(), key("anonymous")).await;
    assert!(!answer.replayed);
    assert_eq!(
        answer.result.expect_err("no token").code,
        ErrorCode::Unauthenticated
    );
    // A forged token (another key) or none at all, on the raw service.
    let forged = TestIssuer::new().token(&ana);
    let err = credential::scope(forged, h.remote.get(&ana, booking.id))
        .await
        .expect_err("forged");
    assert_eq!(err.code, ErrorCode::Unauthenticated, "{err:?}");
    let status = h
        .raw()
        .cancel_booking(pb::CancelBookingRequest {
            id: booking.id.to_string(),
            if_match: None,
            reason: None,
            idempotency_key: None,
        })
        .await
        .expect_err("anonymous");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    // Bea's token speaks for Bea, whoever the call names: Ana's booking is not hers.
    let bea = guest();
    let err = h
        .acting_as(&bea, h.remote.get(&ana, booking.id))
        .await
        .expect_err("not bea's");
    assert_eq!(err.code, ErrorCode::NotFound);
    let err = h
        .acting_as(&bea, h.remote.cancel(&ana, booking.id, None, None, None))
        .await
        .result
        .expect_err("not bea's");
    assert_eq!(err.code, ErrorCode::NotFound);
    // Nothing of it ran.
    assert_eq!(h.local.get(&ana, booking.id).await, Ok(booking.clone()));
    let mine = h
        .local
        .list(&ana, BookingQuery::default())
        .await
        .expect("list");
    assert_eq!(mine.items, vec![booking]);
}

#[tokio::test]
async fn an_unreachable_booking_service_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = BookingGrpcClient::connect(
        &addr.to_string(),
        ResilienceConfig::within(StdDuration::from_secs(2)),
    )
    .await
    .expect("lazy");
    let ana = guest();
    let err = client.get(&ana, BookingId::new()).await.expect_err("down");
    assert_eq!(err.code, ErrorCode::Unavailable, "{err:?}");
    let answer = client
        .create(
            &ana,
            NewBooking {
                hotel_id: HotelId::new(),
                room_type_id: RoomTypeId::new(),
                check_in: CHECK_IN,
                check_out: CHECK_IN + Duration::days(1),
                guests: 1,
                rooms: None,
                guest_name: "Ana".into(),
                guest_email: None,
                special_requests: None,
            },
            key("k"),
        )
        .await;
    assert!(!answer.replayed);
    assert_eq!(
        answer.result.expect_err("down").code,
        ErrorCode::Unavailable
    );
}

#[tokio::test]
async fn a_booking_service_that_stays_down_opens_the_breaker() {
    use innkeeper_platform::resilience::is_rejected;
    use innkeeper_platform::testing::breaker_opening_after;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let calls = breaker_opening_after(2, StdDuration::from_secs(2));
    let client = BookingGrpcClient::connect(&addr.to_string(), calls)
        .await
        .expect("lazy");
    let ana = guest();
    for _ in 0..2 {
        let err = client.get(&ana, BookingId::new()).await.expect_err("down");
        assert!(!is_rejected(&err), "{err:?}");
    }
    // Open: reads and changes alike fail at once, none reaching for the service.
    let err = client.get(&ana, BookingId::new()).await.expect_err("open");
    assert!(is_rejected(&err), "{err:?}");
    let answer = client
        .cancel(&ana, BookingId::new(), None, None, key("k2"))
        .await;
    let err = answer.result.expect_err("open");
    assert!(is_rejected(&err), "{err:?}");
    assert!(!answer.replayed);
}
