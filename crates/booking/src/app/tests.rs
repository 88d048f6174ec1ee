//! Use-case tests over a real catalog (a `CatalogService` on its own test database) and a real
//! booking store, on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use innkeeper_catalog::api::{
    CatalogApi as _, CatalogClient, HoldStatus, NewHotel, NewRoom, NewRoomType, RoomStatus,
};
use innkeeper_catalog::module::CatalogModule;
use innkeeper_catalog::{CatalogService, CatalogSettings};
use innkeeper_events::{ConsumerSettings, Delivery, Dispatcher, Outbox};
use innkeeper_kernel::{
    Currency, ErrorCode, GeoPoint, HotelId, ManualClock, Principal, Role, RoomTypeId, UserId,
};
use innkeeper_platform::testing::TestDatabase;
use time::Duration;

use crate::api::*;
use crate::contracts::{PAYMENT_TOPIC, PaymentSucceeded};
use crate::fixtures::{CHECK_IN, T0, eur, guest};
use crate::module::BookingModule;
use crate::{BookingService, BookingSettings, HoldExpiries, PaymentOutcomes};

/// A hotel with one room type of `rooms` ready rooms, a catalog and a booking service.
struct World {
    bookings: Arc<BookingService>,
    payments: Arc<PaymentOutcomes>,
    hold_expiries: Arc<HoldExpiries>,
    hold_releases: Arc<crate::HoldReleases>,
    catalog: Arc<CatalogService>,
    clock: ManualClock,
    owner: Principal,
    hotel_id: HotelId,
    room_type_id: RoomTypeId,
    booking_db: TestDatabase,
    catalog_db: TestDatabase,
}

fn principal(role: Role) -> Principal {
    Principal {
        user_id: UserId::new(),
        role,
    }
}

async fn world(booking_db: TestDatabase, catalog_db: TestDatabase, rooms: u32) -> World {
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
    let room_type = catalog
        .create_room_type(
            &owner,
            hotel.id,
            NewRoomType {
                name: "Double".to_owned(),
                description: String::new(),
                capacity: 2,
                beds: Vec::new(),
                amenities: Vec::new(),
                base_price: eur(12_900),
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
                    number: format!("{}", 101 + n),
                    floor: 1,
                    room_type_id: room_type.id,
                    status: RoomStatus::Ready,
                },
            )
            .await
            .expect("room");
    }
    let module = BookingModule::start(
        &booking_db.db,
        CatalogClient::new(catalog.clone()),
        Arc::new(clock.clone()),
        BookingSettings::default(),
    )
    .await
    .expect("booking module");
    World {
        bookings: module.service,
        payments: module.payment_outcomes,
        hold_expiries: module.hold_expiries,
        hold_releases: module.hold_releases,
        catalog,
        clock,
        owner,
        hotel_id: hotel.id,
        room_type_id: room_type.id,
        booking_db,
        catalog_db,
    }
}

impl World {
    /// Two nights from [`CHECK_IN`] for two guests in one room.
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
            special_requests: None,
        }
    }

    /// `(total, held, sold)` of the booked type's nights of the stay.
    async fn nights(&self) -> Vec<(u32, u32, u32)> {
        self.nights_of(CHECK_IN, CHECK_IN + Duration::days(2)).await
    }

    /// A dispatcher running the payment consumer on the booking database.
    fn dispatcher(&self) -> Dispatcher {
        self.dispatcher_of(self.payments.clone())
    }

    /// A dispatcher running `consumer` on the booking database.
    fn dispatcher_of(&self, consumer: Arc<dyn innkeeper_events::Consumer>) -> Dispatcher {
        Dispatcher::new(
            consumer,
            self.booking_db.db.clone(),
            ConsumerSettings {
                max_attempts: 1,
                backoff: StdDuration::from_millis(1),
                ..ConsumerSettings::default()
            },
        )
    }
}

/// The events a service wrote to its outbox, in order, as its relay would publish them.
async fn outbox_events(db: &innkeeper_platform::db::Database) -> Vec<innkeeper_events::Event> {
    type Row = (
        uuid::Uuid,
        String,
        String,
        String,
        i64,
        String,
        Vec<u8>,
        Option<String>,
        Option<String>,
        String,
    );
    const SQL: &str = "SELECT id, source, type, subject, time, content_type, data, traceparent, \
                       tracestate, topic FROM event_outbox ORDER BY seq";
    let rows: Vec<Row> = match db {
        innkeeper_platform::db::Database::Sqlite(sqlite) => {
            sqlx::query_as(SQL).fetch_all(&sqlite.reader).await
        }
        innkeeper_platform::db::Database::Postgres(pool) => {
            sqlx::query_as(SQL).fetch_all(pool).await
        }
    }
    .expect("catalog outbox");
    rows.into_iter()
        .map(|r| innkeeper_events::Event {
            id: r.0,
            source: r.1,
            event_type: r.2,
            subject: r.3,
            time: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.4) * 1_000)
                .expect("time"),
            content_type: r.5,
            data: r.6,
            traceparent: r.7,
            tracestate: r.8,
            topic: r.9,
        })
        .collect()
}

/// `payment.succeeded` for a booking, as the payment service will publish it.
fn payment_succeeded(booking_id: BookingId, amount: i64) -> innkeeper_events::Event {
    const PAYMENT: Outbox = Outbox::new("/innkeeper/payment", PAYMENT_TOPIC);
    PAYMENT
        .event(
            booking_id,
            &PaymentSucceeded {
                payment_id: uuid::Uuid::now_v7(),
                booking_id: booking_id.as_uuid(),
                amount: eur(amount),
            },
        )
        .expect("event")
}

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let world = super::world(
                        innkeeper_platform::testing::TestDatabase::sqlite().await,
                        innkeeper_platform::testing::TestDatabase::sqlite().await,
                        3,
                    )
                    .await;
                    super::$test(world).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(bookings) = innkeeper_platform::testing::TestDatabase::postgres().await else {
                        return;
                    };
                    let Some(catalog) = innkeeper_platform::testing::TestDatabase::postgres().await else {
                        return;
                    };
                    super::$test(super::world(bookings, catalog, 3).await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_guest_books_a_stay_held_under_the_booking_id,
    only_guests_book_and_refused_requests_hold_nothing,
    the_last_room_goes_to_exactly_one_guest,
    cancelling_releases_the_rooms_and_records_the_refund,
    payment_succeeded_confirms_the_booking_and_sells_the_hold_once,
    bookings_are_visible_to_their_guest_their_hotel_and_admins_only,
    one_key_books_once_and_replays_the_same_answer,
    a_keyed_failure_replays_its_error_and_keyed_cancels_replay,
    a_hold_the_catalog_expires_expires_its_unpaid_booking,
    the_front_desk_checks_in_and_out_and_records_no_shows,
    a_room_never_holds_two_overlapping_stays,
    a_guest_moves_a_stay_new_hold_first_old_hold_after,
    a_change_that_cannot_be_held_leaves_the_booking_as_it_was,
    holds_come_back_even_when_the_release_after_a_change_is_lost,
    lists_show_a_guest_their_own_and_a_hotel_its_own,
);

async fn a_guest_books_a_stay_held_under_the_booking_id(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    assert_eq!(booking.status, BookingStatus::PendingPayment);
    assert_eq!(booking.payment, PaymentState::AwaitingPayment);
    assert_eq!(booking.guest_id, ana.user_id);
    assert_eq!(booking.hotel_owner_id, world.owner.user_id);
    assert_eq!(booking.price.total, eur(25_800));
    assert_eq!(booking.price.nights.len(), 2);
    assert_eq!(booking.cancellation_policy, CancellationPolicy::default());
    assert_eq!(booking.hold_expires_at, T0 + Duration::seconds(900));
    assert!(booking.reference.as_str().starts_with("INK-"));

    let hold = world
        .catalog
        .get_hold(booking.id.hold_id())
        .await
        .expect("hold");
    assert_eq!(hold.status, HoldStatus::Held);
    assert_eq!(booking.hold_id, hold.id);
    assert_eq!(world.nights().await, vec![(3, 1, 0), (3, 1, 0)]);

    assert_eq!(
        world.bookings.get(&ana, booking.id).await.expect("get"),
        booking
    );
    let lower = booking.reference.as_str().to_ascii_lowercase();
    assert_eq!(
        world
            .bookings
            .get_by_reference(&ana, &lower)
            .await
            .expect("by ref"),
        booking
    );
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].event_type, "created");
    assert_eq!(history[0].actor, Actor::user(&ana));
    assert_eq!(history[0].at, T0);
}

async fn only_guests_book_and_refused_requests_hold_nothing(world: World) {
    for role in [Role::Hotelier, Role::Admin] {
        let err = world
            .bookings
            .create(&principal(role), world.request(), None)
            .await
            .result
            .expect_err("not a guest");
        assert_eq!(err.code, ErrorCode::Forbidden);
    }
    let ana = guest();
    let past = NewBooking {
        check_in: T0.date() - Duration::days(1),
        ..world.request()
    };
    let crowded = NewBooking {
        guests: 3,
        ..world.request()
    };
    let elsewhere = NewBooking {
        room_type_id: RoomTypeId::new(),
        ..world.request()
    };
    for (request, field) in [
        (past, "check_in"),
        (crowded, "guests"),
        (elsewhere, "room_type_id"),
    ] {
        let err = world
            .bookings
            .create(&ana, request, None)
            .await
            .result
            .expect_err("invalid");
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.errors.iter().any(|e| e.field == field), "{err:?}");
    }
    let unknown_hotel = NewBooking {
        hotel_id: HotelId::new(),
        ..world.request()
    };
    let err = world
        .bookings
        .create(&ana, unknown_hotel, None)
        .await
        .result
        .expect_err("no hotel");
    assert_eq!(err.code, ErrorCode::NotFound);
    let too_many_rooms = NewBooking {
        rooms: Some(4),
        guests: 2,
        ..world.request()
    };
    let err = world
        .bookings
        .create(&ana, too_many_rooms, None)
        .await
        .result
        .expect_err("sold out");
    assert_eq!(err.code, ErrorCode::SoldOut);
    let nights = world.nights().await;
    assert!(
        nights
            .iter()
            .all(|(_, held, sold)| (*held, *sold) == (0, 0)),
        "{nights:?}"
    );
}

async fn the_last_room_goes_to_exactly_one_guest(world: World) {
    // Two of the three rooms are taken.
    for _ in 0..2 {
        world
            .bookings
            .create(&guest(), world.request(), None)
            .await
            .result
            .expect("create");
    }
    let world = Arc::new(world);
    let mut racers = Vec::new();
    for _ in 0..16 {
        let world = world.clone();
        racers.push(tokio::spawn(async move {
            world
                .bookings
                .create(&guest(), world.request(), None)
                .await
                .result
        }));
    }
    let (mut created, mut sold_out) = (0, 0);
    for racer in racers {
        match racer.await.expect("task") {
            Ok(_) => created += 1,
            Err(err) if err.code == ErrorCode::SoldOut => sold_out += 1,
            Err(err) => panic!("unexpected {err:?}"),
        }
    }
    assert_eq!((created, sold_out), (1, 15));
    assert_eq!(world.nights().await, vec![(3, 3, 0), (3, 3, 0)]);
}

async fn cancelling_releases_the_rooms_and_records_the_refund(world: World) {
    let ana = guest();
    let unpaid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    // Someone else's guest cannot cancel it (nor learn it exists).
    let err = world
        .bookings
        .cancel(&guest(), unpaid.id, None, None, None)
        .await
        .result
        .expect_err("not theirs");
    assert_eq!(err.code, ErrorCode::NotFound);
    // A stale If-Match.
    let err = world
        .bookings
        .cancel(&ana, unpaid.id, Some(7), None, None)
        .await
        .result
        .expect_err("stale");
    assert_eq!(err.code, ErrorCode::VersionMismatch);
    let cancelled = world
        .bookings
        .cancel(
            &ana,
            unpaid.id,
            Some(1),
            Some(" plans changed ".to_owned()),
            None,
        )
        .await
        .result
        .expect("cancel");
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(cancelled.version, 2);
    assert_eq!(
        cancelled.refund,
        Some(Refund {
            amount: eur(0),
            rule: RefundRule::NothingPaid
        })
    );
    let hold = world.catalog.get_hold(unpaid.hold_id).await.expect("hold");
    assert_eq!(hold.status, HoldStatus::Released);
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
    let err = world
        .bookings
        .cancel(&ana, unpaid.id, None, None, None)
        .await
        .result
        .expect_err("twice");
    assert_eq!(err.code, ErrorCode::InvalidState);
    assert!(err.message.contains("cancelled"), "{}", err.message);

    // Paid, then cancelled by the hotel's owner a day before arrival: 50 % back.
    let paid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let delivery = world
        .dispatcher()
        .deliver(&payment_succeeded(paid.id, 25_800))
        .await
        .expect("deliver");
    assert_eq!(delivery, Delivery::Handled);
    world
        .clock
        .advance(CHECK_IN - Duration::days(1) - T0.date());
    let cancelled = world
        .bookings
        .cancel(&world.owner, paid.id, None, None, None)
        .await
        .result
        .expect("owner cancels");
    assert_eq!(
        cancelled.refund,
        Some(Refund {
            amount: eur(12_900),
            rule: RefundRule::LateCancellation
        })
    );
    assert_eq!(
        world
            .catalog
            .get_hold(paid.hold_id)
            .await
            .expect("hold")
            .status,
        HoldStatus::Released
    );
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
    let history = world
        .bookings
        .history(&ana, paid.id)
        .await
        .expect("history");
    let types: Vec<&str> = history.iter().map(|h| h.event_type.as_str()).collect();
    assert_eq!(types, ["created", "confirmed", "cancelled"]);
    assert_eq!(history[1].actor, Actor::service("payment"));
    assert_eq!(history[2].actor, Actor::user(&world.owner));
}

async fn payment_succeeded_confirms_the_booking_and_sells_the_hold_once(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let dispatcher = world.dispatcher();
    let paid = payment_succeeded(booking.id, 25_800);
    assert_eq!(
        dispatcher.deliver(&paid).await.expect("deliver"),
        Delivery::Handled
    );
    assert_eq!(
        dispatcher.deliver(&paid).await.expect("again"),
        Delivery::Duplicate
    );
    // A second payment event for the same booking (another id) changes nothing either.
    let another = payment_succeeded(booking.id, 25_800);
    assert_eq!(
        dispatcher.deliver(&another).await.expect("another"),
        Delivery::Handled
    );

    let confirmed = world.bookings.get(&ana, booking.id).await.expect("get");
    assert_eq!(confirmed.status, BookingStatus::Confirmed);
    assert_eq!(confirmed.payment, PaymentState::Paid);
    assert_eq!(confirmed.paid, eur(25_800));
    assert_eq!(confirmed.version, 2);
    let hold = world.catalog.get_hold(booking.hold_id).await.expect("hold");
    assert_eq!(hold.status, HoldStatus::Confirmed);
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);

    // A payment for a booking that does not exist cannot be handled: dead letter.
    let stray = payment_succeeded(BookingId::new(), 100);
    assert_eq!(
        dispatcher.deliver(&stray).await.expect("stray"),
        Delivery::DeadLettered
    );

    // Paid after the hold lapsed: the booking expires instead (payment refunds later).
    let late = world
        .bookings
        .create(&guest(), world.request(), None)
        .await
        .result
        .expect("create");
    world.clock.advance(Duration::minutes(16));
    assert_eq!(
        dispatcher
            .deliver(&payment_succeeded(late.id, 25_800))
            .await
            .expect("late"),
        Delivery::Handled
    );
    let expired = world
        .bookings
        .get(&world.owner, late.id)
        .await
        .expect("get");
    assert_eq!(expired.status, BookingStatus::Expired);
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);
}

async fn bookings_are_visible_to_their_guest_their_hotel_and_admins_only(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    for who in [ana, world.owner, principal(Role::Admin)] {
        assert_eq!(
            world.bookings.get(&who, booking.id).await.expect("visible"),
            booking
        );
        assert!(world.bookings.history(&who, booking.id).await.is_ok());
    }
    for who in [guest(), principal(Role::Hotelier)] {
        let err = world
            .bookings
            .get(&who, booking.id)
            .await
            .expect_err("hidden");
        assert_eq!(err.code, ErrorCode::NotFound);
        let err = world
            .bookings
            .get_by_reference(&who, booking.reference.as_str())
            .await
            .expect_err("hidden");
        assert_eq!(err.code, ErrorCode::NotFound);
        assert_eq!(
            world
                .bookings
                .history(&who, booking.id)
                .await
                .expect_err("hidden")
                .code,
            ErrorCode::NotFound
        );
    }
    let err = world
        .bookings
        .get_by_reference(&ana, "INK-0000")
        .await
        .expect_err("malformed");
    assert_eq!(err.code, ErrorCode::NotFound);
}

fn key(text: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey::parse(text).expect("key"))
}

async fn one_key_books_once_and_replays_the_same_answer(world: World) {
    let ana = guest();
    let world = Arc::new(world);
    let mut attempts = Vec::new();
    for _ in 0..16 {
        let world = world.clone();
        attempts.push(tokio::spawn(async move {
            world
                .bookings
                .create(&ana, world.request(), key("book-1"))
                .await
        }));
    }
    let mut booked = Vec::new();
    let mut in_flight = 0;
    for attempt in attempts {
        let answer = attempt.await.expect("task");
        match answer.result {
            Ok(booking) => booked.push((booking, answer.replayed)),
            Err(err) if err.code == ErrorCode::Conflict => in_flight += 1,
            Err(err) => panic!("unexpected {err:?}"),
        }
    }
    let fresh: Vec<_> = booked.iter().filter(|(_, replayed)| !replayed).collect();
    assert_eq!(fresh.len(), 1, "one execution");
    assert_eq!(booked.len() + in_flight, 16);
    let first = fresh[0].0.clone();
    assert!(
        booked.iter().all(|(b, _)| *b == first),
        "replays answer the same booking"
    );
    assert_eq!(world.nights().await, vec![(3, 1, 0), (3, 1, 0)], "one hold");

    let again = world
        .bookings
        .create(&ana, world.request(), key("book-1"))
        .await;
    assert!(again.replayed);
    let replayed = again.result.expect("replayed booking");
    assert_eq!(
        serde_json::to_vec(&replayed).expect("json"),
        serde_json::to_vec(&first).expect("json"),
        "byte-identical"
    );
    // The same key for another request.
    let other = NewBooking {
        guests: 1,
        ..world.request()
    };
    let err = world
        .bookings
        .create(&ana, other, key("book-1"))
        .await
        .result
        .expect_err("reused");
    assert_eq!(err.code, ErrorCode::ValidationFailed);
    assert_eq!(err.code.http_status(), 422);
    // Keys are the caller's: another guest's "book-1" is another request.
    let bea = world
        .bookings
        .create(&guest(), world.request(), key("book-1"))
        .await;
    assert!(!bea.replayed);
    assert_ne!(bea.result.expect("booked").id, first.id);
    assert_eq!(world.nights().await, vec![(3, 2, 0), (3, 2, 0)]);
}

async fn a_keyed_failure_replays_its_error_and_keyed_cancels_replay(world: World) {
    let ana = guest();
    let four = NewBooking {
        rooms: Some(4),
        ..world.request()
    };
    let first = world.bookings.create(&ana, four.clone(), key("four")).await;
    let err = first.result.expect_err("sold out");
    assert_eq!(err.code, ErrorCode::SoldOut);
    // Even once rooms could be found, the key answers what it answered.
    let again = world.bookings.create(&ana, four, key("four")).await;
    assert!(again.replayed);
    assert_eq!(again.result.expect_err("replayed"), err);

    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let cancel = |k: &'static str| {
        let world = world.bookings.clone();
        async move { world.cancel(&ana, booking.id, None, None, key(k)).await }
    };
    let first = cancel("cancel-1").await;
    assert!(!first.replayed);
    let cancelled = first.result.expect("cancelled");
    let second = cancel("cancel-1").await;
    assert!(
        second.replayed,
        "a repeat is answered, not refused as invalid_state"
    );
    assert_eq!(second.result.expect("replayed"), cancelled);
    let third = cancel("cancel-2").await;
    assert_eq!(
        third.result.expect_err("new key").code,
        ErrorCode::InvalidState
    );
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    assert_eq!(history.len(), 2, "one cancellation");
}

async fn a_hold_the_catalog_expires_expires_its_unpaid_booking(world: World) {
    let ana = guest();
    let unpaid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let paid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let delivered = world
        .dispatcher()
        .deliver(&payment_succeeded(paid.id, 25_800))
        .await
        .expect("payment");
    assert_eq!(delivered, Delivery::Handled);
    world.clock.advance(Duration::minutes(16));
    let expired = world.catalog.expire_due_holds(100).await.expect("sweep");
    assert_eq!(expired.len(), 1, "only the unpaid booking's hold");
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);

    // Every event the catalog published goes to the consumer, as the bus or Kafka would.
    let expiries = world.dispatcher_of(world.hold_expiries.clone());
    let events = outbox_events(&world.catalog_db.db).await;
    assert!(
        events.len() >= 4,
        "placed, placed, confirmed, expired: {}",
        events.len()
    );
    for event in &events {
        assert_eq!(
            expiries.deliver(event).await.expect("deliver"),
            Delivery::Handled
        );
    }
    for event in &events {
        assert_eq!(
            expiries.deliver(event).await.expect("again"),
            Delivery::Duplicate
        );
    }
    let now_expired = world.bookings.get(&ana, unpaid.id).await.expect("get");
    assert_eq!(now_expired.status, BookingStatus::Expired);
    assert_eq!(now_expired.version, 2);
    let history = world
        .bookings
        .history(&ana, unpaid.id)
        .await
        .expect("history");
    assert_eq!(history[1].actor, Actor::service("catalog.hold_expiry"));
    let still_paid = world.bookings.get(&ana, paid.id).await.expect("get");
    assert_eq!(still_paid.status, BookingStatus::Confirmed);
    // Nothing was given back twice: the rooms the expiry freed are free once.
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);
    // A payment arriving now finds the booking expired and changes nothing.
    let late = world
        .dispatcher()
        .deliver(&payment_succeeded(unpaid.id, 25_800))
        .await
        .expect("late payment");
    assert_eq!(late, Delivery::Handled);
    assert_eq!(
        world
            .bookings
            .get(&ana, unpaid.id)
            .await
            .expect("get")
            .version,
        2
    );
}

impl World {
    /// A booking of a fresh guest, paid.
    async fn paid_booking(&self) -> (Principal, Booking) {
        let who = guest();
        let booking = self
            .bookings
            .create(&who, self.request(), None)
            .await
            .result
            .expect("create");
        let delivered = self
            .dispatcher()
            .deliver(&payment_succeeded(booking.id, 25_800))
            .await
            .expect("payment");
        assert_eq!(delivered, Delivery::Handled);
        (who, booking)
    }

    /// The hotel's rooms of the booked type.
    async fn rooms(&self) -> Vec<innkeeper_kernel::RoomId> {
        let rooms = self
            .catalog
            .list_rooms(&self.owner, self.hotel_id)
            .await
            .expect("rooms");
        rooms.iter().map(|r| r.id).collect()
    }
}

async fn the_front_desk_checks_in_and_out_and_records_no_shows(world: World) {
    let (ana, booking) = world.paid_booking().await;
    let desk = world.owner;
    // The guest sees the booking but is not the front desk; another hotelier does not see it.
    let err = world
        .bookings
        .check_in(&ana, booking.id, None, None, None)
        .await
        .result;
    assert_eq!(err.expect_err("guest").code, ErrorCode::Forbidden);
    let other = principal(Role::Hotelier);
    let err = world
        .bookings
        .check_in(&other, booking.id, None, None, None)
        .await
        .result;
    assert_eq!(err.expect_err("other hotel").code, ErrorCode::NotFound);
    // Not before the check-in day.
    let err = world
        .bookings
        .check_in(&desk, booking.id, None, None, None)
        .await
        .result;
    assert_eq!(err.expect_err("too early").code, ErrorCode::InvalidState);

    world.clock.advance(CHECK_IN - T0.date());
    let inside = world
        .bookings
        .check_in(&desk, booking.id, None, Some(2), None)
        .await
        .result
        .expect("check in");
    assert_eq!(inside.status, BookingStatus::CheckedIn);
    let room = inside.room_id.expect("a room");
    assert!(world.rooms().await.contains(&room));
    let out = world
        .bookings
        .check_out(&desk, booking.id, None, None)
        .await
        .result
        .expect("check out");
    assert_eq!(out.status, BookingStatus::CheckedOut);
    let err = world
        .bookings
        .no_show(&desk, booking.id, None, None)
        .await
        .result;
    assert!(err.expect_err("left").message.contains("checked_out"));
    let history = world
        .bookings
        .history(&ana, booking.id)
        .await
        .expect("history");
    let types: Vec<&str> = history.iter().map(|h| h.event_type.as_str()).collect();
    assert_eq!(types, ["created", "confirmed", "checked_in", "checked_out"]);
    assert_eq!(history[2].data["room_id"], serde_json::json!(room));

    // A no-show on the check-in day; an unpaid booking cannot be one.
    let (_, absent) = world.paid_booking().await;
    let absent = world
        .bookings
        .no_show(&desk, absent.id, None, key("ns-1"))
        .await
        .result
        .expect("no show");
    assert_eq!(absent.status, BookingStatus::NoShow);
    let replay = world
        .bookings
        .no_show(&desk, absent.id, None, key("ns-1"))
        .await;
    assert!(replay.replayed);
    assert_eq!(replay.result.expect("replayed"), absent);
}

async fn a_room_never_holds_two_overlapping_stays(world: World) {
    let mut stays = Vec::new();
    for _ in 0..3 {
        stays.push(world.paid_booking().await.1);
    }
    world.clock.advance(CHECK_IN - T0.date());
    let rooms = world.rooms().await;
    let contested = rooms[0];
    let world = Arc::new(world);
    let mut desks = Vec::new();
    for booking in &stays {
        let (world, id) = (world.clone(), booking.id);
        desks.push(tokio::spawn(async move {
            world
                .bookings
                .check_in(&world.owner, id, Some(contested), None, None)
                .await
                .result
        }));
    }
    let mut given = Vec::new();
    for desk in desks {
        match desk.await.expect("task") {
            Ok(booking) => given.push(booking),
            Err(err) => {
                assert_eq!(err.code, ErrorCode::Conflict);
                assert!(
                    err.message.contains(&contested.to_string()),
                    "{}",
                    err.message
                );
            }
        }
    }
    assert_eq!(given.len(), 1, "one stay gets the contested room");
    assert_eq!(given[0].room_id, Some(contested));
    // The others get the other rooms, one each.
    let mut assigned = vec![contested];
    for booking in stays.iter().filter(|b| b.id != given[0].id) {
        let inside = world
            .bookings
            .check_in(&world.owner, booking.id, None, None, None)
            .await
            .result
            .expect("check in");
        let room = inside.room_id.expect("room");
        assert!(!assigned.contains(&room), "room {room} given twice");
        assigned.push(room);
    }
    assert_eq!(assigned.len(), 3);
}

impl World {
    /// `(total, held, sold)` of the nights `[from, to)` of the booked room type.
    async fn nights_of(&self, from: time::Date, to: time::Date) -> Vec<(u32, u32, u32)> {
        let nights = self
            .catalog
            .get_inventory(&self.owner, self.hotel_id, from, to)
            .await
            .expect("inventory");
        nights
            .iter()
            .filter(|n| n.room_type_id == self.room_type_id)
            .map(|n| (n.total, n.held, n.sold))
            .collect()
    }
}

async fn a_guest_moves_a_stay_new_hold_first_old_hold_after(world: World) {
    let ana = guest();
    let unpaid = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    let later = CHECK_IN + Duration::days(7);
    let patch = BookingPatch {
        check_in: Some(later),
        check_out: Some(later + Duration::days(3)),
        ..BookingPatch::default()
    };
    // If-Match is required, and must be current.
    let err = world
        .bookings
        .modify(&ana, unpaid.id, None, patch.clone(), None)
        .await
        .result;
    assert_eq!(
        err.expect_err("no If-Match").code,
        ErrorCode::PreconditionRequired
    );
    let err = world
        .bookings
        .modify(&ana, unpaid.id, Some(5), patch.clone(), None)
        .await
        .result;
    assert_eq!(err.expect_err("stale").code, ErrorCode::VersionMismatch);
    // The hotel's owner sees the booking but does not change it.
    let err = world
        .bookings
        .modify(&world.owner, unpaid.id, Some(1), patch.clone(), None)
        .await;
    assert_eq!(err.result.expect_err("owner").code, ErrorCode::Forbidden);

    let moved = world
        .bookings
        .modify(&ana, unpaid.id, Some(1), patch.clone(), None)
        .await
        .result
        .expect("modify");
    assert_eq!(moved.version, 2);
    assert_eq!(moved.status, BookingStatus::PendingPayment);
    assert_eq!(moved.stay.check_in(), later);
    assert_eq!(moved.price.total, eur(3 * 12_900));
    assert_ne!(moved.hold_id, unpaid.hold_id);
    assert_eq!(
        world.nights().await,
        vec![(3, 0, 0), (3, 0, 0)],
        "old hold given back"
    );
    assert_eq!(
        world.nights_of(later, later + Duration::days(3)).await,
        vec![(3, 1, 0); 3],
        "new stay held"
    );
    assert_eq!(
        world
            .catalog
            .get_hold(unpaid.hold_id)
            .await
            .expect("old")
            .status,
        HoldStatus::Released
    );
    let history = world
        .bookings
        .history(&ana, unpaid.id)
        .await
        .expect("history");
    assert_eq!(history[1].event_type, "modified");
    assert_eq!(history[1].data["price_difference"], 12_900);

    // Paid, then moved back: the new hold is sold at once, the old sale given back.
    let paid = world
        .dispatcher()
        .deliver(&payment_succeeded(unpaid.id, 3 * 12_900))
        .await
        .expect("payment");
    assert_eq!(paid, Delivery::Handled);
    let back = BookingPatch {
        check_in: Some(CHECK_IN),
        check_out: Some(CHECK_IN + Duration::days(2)),
        ..BookingPatch::default()
    };
    let moved_back = world
        .bookings
        .modify(&ana, unpaid.id, Some(3), back, None)
        .await
        .result
        .expect("modify a paid booking");
    assert_eq!(moved_back.status, BookingStatus::Confirmed);
    assert_eq!(world.nights().await, vec![(3, 0, 1), (3, 0, 1)]);
    assert_eq!(
        world.nights_of(later, later + Duration::days(3)).await,
        vec![(3, 0, 0); 3]
    );
    let history = world
        .bookings
        .history(&ana, unpaid.id)
        .await
        .expect("history");
    assert_eq!(history[3].data["price_difference"], -12_900);
}

async fn a_change_that_cannot_be_held_leaves_the_booking_as_it_was(world: World) {
    let ana = guest();
    let booking = world
        .bookings
        .create(&ana, world.request(), None)
        .await
        .result
        .expect("create");
    // Another room type without rooms: sold out.
    let suite = world
        .catalog
        .create_room_type(
            &world.owner,
            world.hotel_id,
            NewRoomType {
                name: "Suite".to_owned(),
                description: String::new(),
                capacity: 4,
                beds: Vec::new(),
                amenities: Vec::new(),
                base_price: eur(30_000),
            },
        )
        .await
        .expect("suite");
    let patch = BookingPatch {
        room_type_id: Some(suite.id),
        guests: Some(4),
        ..BookingPatch::default()
    };
    let err = world
        .bookings
        .modify(&ana, booking.id, Some(1), patch, None)
        .await
        .result;
    assert_eq!(err.expect_err("no suite").code, ErrorCode::SoldOut);
    assert_eq!(
        world.bookings.get(&ana, booking.id).await.expect("get"),
        booking
    );
    assert_eq!(
        world.nights().await,
        vec![(3, 1, 0), (3, 1, 0)],
        "the old hold stands"
    );
    // Too many guests for the booked type; on the check-in day, nothing can change.
    let crowd = BookingPatch {
        guests: Some(3),
        ..BookingPatch::default()
    };
    let err = world
        .bookings
        .modify(&ana, booking.id, Some(1), crowd, None)
        .await
        .result;
    assert_eq!(err.expect_err("crowd").errors[0].field, "guests");
    world.clock.advance(CHECK_IN - T0.date());
    let late = BookingPatch {
        guests: Some(1),
        ..BookingPatch::default()
    };
    let err = world
        .bookings
        .modify(&ana, booking.id, Some(1), late, None)
        .await
        .result;
    assert_eq!(err.expect_err("too late").code, ErrorCode::InvalidState);
}

async fn holds_come_back_even_when_the_release_after_a_change_is_lost(world: World) {
    use crate::domain::booking as rules;
    use crate::store::Append;

    let record = |decided: rules::Decided| Append {
        expected_version: decided.event.version - 1,
        events: vec![decided.event],
        booking: decided.booking,
        idempotency: None,
        assignment: None,
    };
    // A paid booking cancelled by a process that dies before giving the (sold) hold back.
    let (ana, paid) = world.paid_booking().await;
    let paid = world.bookings.get(&ana, paid.id).await.expect("get");
    let cancelled = rules::cancel(&paid, None, T0.date(), Actor::user(&ana), T0).expect("cancel");
    world
        .bookings
        .store
        .append(&record(cancelled))
        .await
        .expect("append");
    assert_eq!(
        world.nights().await,
        vec![(3, 0, 1), (3, 0, 1)],
        "still sold"
    );

    // An unpaid booking moved by a process that dies after holding the new stay.
    let bea = guest();
    let unpaid = world
        .bookings
        .create(&bea, world.request(), None)
        .await
        .result
        .expect("create");
    let later = CHECK_IN + Duration::days(7);
    let stay =
        innkeeper_kernel::StayDates::from_stored(later, later + Duration::days(1)).expect("stay");
    let new_hold = world
        .catalog
        .place_hold(innkeeper_catalog::api::PlaceHold {
            hold_id: innkeeper_kernel::HoldId::new(),
            room_type_id: world.room_type_id,
            stay,
            quantity: 1,
            ttl_seconds: 900,
        })
        .await
        .expect("new hold");
    let terms = rules::NewTerms {
        room_type_id: world.room_type_id,
        hold_id: new_hold.id,
        stay,
        guests: 2,
        rooms: 1,
        price: crate::fixtures::price(later, 1, 12_900, 1),
        hold_expires_at: new_hold.expires_at,
    };
    let moved = rules::modify(&unpaid, terms, T0.date(), Actor::user(&bea), T0).expect("modify");
    world
        .bookings
        .store
        .append(&record(moved))
        .await
        .expect("append");
    assert_eq!(
        world.nights().await,
        vec![(3, 1, 1), (3, 1, 1)],
        "old hold still held"
    );

    // The service's own events bring every hold back, once.
    let releases = world.dispatcher_of(world.hold_releases.clone());
    let events = outbox_events(&world.booking_db.db).await;
    for event in &events {
        assert_eq!(
            releases.deliver(event).await.expect("deliver"),
            Delivery::Handled
        );
    }
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
    assert_eq!(
        world.nights_of(later, later + Duration::days(1)).await,
        vec![(3, 1, 0)]
    );
    assert_eq!(
        world
            .catalog
            .get_hold(new_hold.id)
            .await
            .expect("new")
            .status,
        HoldStatus::Held,
        "the new hold stays"
    );
    for event in &events {
        assert_eq!(
            releases.deliver(event).await.expect("again"),
            Delivery::Duplicate
        );
    }
    // Releases that already happened in the request are not repeated either.
    let carl = guest();
    let third = world
        .bookings
        .create(&carl, world.request(), None)
        .await
        .result
        .expect("create");
    world
        .bookings
        .cancel(&carl, third.id, None, None, None)
        .await
        .result
        .expect("cancel");
    for event in outbox_events(&world.booking_db.db)
        .await
        .iter()
        .skip(events.len())
    {
        assert_eq!(
            releases.deliver(event).await.expect("deliver"),
            Delivery::Handled
        );
    }
    assert_eq!(world.nights().await, vec![(3, 0, 0), (3, 0, 0)]);
}

async fn lists_show_a_guest_their_own_and_a_hotel_its_own(world: World) {
    let (ana, bea) = (guest(), guest());
    let mut anas = Vec::new();
    for _ in 0..3 {
        let b = world
            .bookings
            .create(&ana, world.request(), None)
            .await
            .result
            .expect("create");
        anas.push(b.id);
    }
    world
        .bookings
        .cancel(&ana, anas[2], None, None, None)
        .await
        .result
        .expect("cancel");
    let beas = world
        .bookings
        .create(&bea, world.request(), None)
        .await
        .result
        .expect("create");

    let own = world
        .bookings
        .list(&ana, BookingQuery::default())
        .await
        .expect("list");
    let mut expected = anas.clone();
    expected.sort();
    assert_eq!(own.items.iter().map(|b| b.id).collect::<Vec<_>>(), expected);
    assert_eq!(own.next_cursor, None);

    let at_hotel = BookingQuery {
        hotel_id: Some(world.hotel_id),
        limit: Some(3),
        ..BookingQuery::default()
    };
    let first = world
        .bookings
        .list(&world.owner, at_hotel.clone())
        .await
        .expect("page 1");
    assert_eq!(first.items.len(), 3);
    let second = world
        .bookings
        .list(
            &world.owner,
            BookingQuery {
                cursor: first.next_cursor.clone(),
                ..at_hotel.clone()
            },
        )
        .await
        .expect("page 2");
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next_cursor, None);
    let all: Vec<_> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|b| b.id)
        .collect();
    assert!(all.contains(&beas.id));
    let cancelled = BookingQuery {
        status: Some(BookingStatus::Cancelled),
        ..at_hotel.clone()
    };
    let only = world
        .bookings
        .list(&world.owner, cancelled)
        .await
        .expect("cancelled");
    assert_eq!(
        only.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![anas[2]]
    );
    assert!(
        world
            .bookings
            .list(&principal(Role::Admin), at_hotel.clone())
            .await
            .is_ok()
    );

    // Another hotelier's hotel does not exist for them; a guest lists only their own.
    let err = world
        .bookings
        .list(&principal(Role::Hotelier), at_hotel.clone())
        .await;
    assert_eq!(err.expect_err("other hotel").code, ErrorCode::NotFound);
    let err = world.bookings.list(&ana, at_hotel).await;
    assert_eq!(err.expect_err("guest").code, ErrorCode::Forbidden);
    let err = world
        .bookings
        .list(&world.owner, BookingQuery::default())
        .await;
    assert_eq!(err.expect_err("which hotel").errors[0].field, "hotel_id");
    let bad = BookingQuery {
        limit: Some(0),
        ..BookingQuery::default()
    };
    assert_eq!(
        world
            .bookings
            .list(&ana, bad)
            .await
            .expect_err("limit")
            .errors[0]
            .field,
        "limit"
    );
}
