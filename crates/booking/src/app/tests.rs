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
use fake_payments::FakePayments;

/// A hotel with one room type of `rooms` ready rooms, a catalog, a payment service that
/// answers from memory ([`FakePayments`]) and a booking service.
struct World {
    bookings: Arc<BookingService>,
    payment_service: Arc<FakePayments>,
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
    let payment_service = Arc::new(FakePayments::default());
    let module = BookingModule::start(
        &booking_db.db,
        CatalogClient::new(catalog.clone()),
        Some(innkeeper_payment::api::PaymentClient::new(
            payment_service.clone(),
        )),
        Arc::new(clock.clone()),
        BookingSettings::default(),
    )
    .await
    .expect("booking module");
    World {
        bookings: module.service,
        payment_service,
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

/// `payment.succeeded` for a booking's own payment, as the payment service will publish it.
fn payment_succeeded(booking_id: BookingId, amount: i64) -> innkeeper_events::Event {
    payment_of(booking_id, None, amount)
}

/// `payment.succeeded` of the payment opened for a booking's change to version
/// `modification` (`None`: the booking's own).
fn payment_of(
    booking_id: BookingId,
    modification: Option<i64>,
    amount: i64,
) -> innkeeper_events::Event {
    const PAYMENT: Outbox = Outbox::new("/innkeeper/payment", PAYMENT_TOPIC);
    PAYMENT
        .event(
            booking_id,
            &PaymentSucceeded {
                payment_id: fake_payments::payment_id_of(booking_id.as_uuid(), modification).0,
                booking_id: booking_id.as_uuid(),
                amount: eur(amount),
                late: false,
            },
        )
        .expect("event")
}

macro_rules! on_both_backends {
    ($($group:ident :: $test:ident),* $(,)?) => {
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
                    super::$group::$test(world).await;
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
                    super::$group::$test(super::world(bookings, catalog, 3).await).await;
                }
            )*
        }
    };
}

mod booking;
mod changes;
mod desk;
mod fake_payments;
mod keys;
mod payment;
mod saga;
mod storm;

on_both_backends!(
    storm::a_storm_keeps_counters_and_bookings_in_step,
    booking::a_guest_books_a_stay_held_under_the_booking_id,
    booking::only_guests_book_and_refused_requests_hold_nothing,
    booking::the_last_room_goes_to_exactly_one_guest,
    saga::cancelling_releases_the_rooms_and_records_the_refund,
    saga::payment_succeeded_confirms_the_booking_and_sells_the_hold_once,
    booking::bookings_are_visible_to_their_guest_their_hotel_and_admins_only,
    keys::one_key_books_once_and_replays_the_same_answer,
    keys::a_keyed_failure_replays_its_error_and_keyed_cancels_replay,
    saga::a_hold_the_catalog_expires_expires_its_unpaid_booking,
    desk::the_front_desk_checks_in_and_out_and_records_no_shows,
    desk::a_room_never_holds_two_overlapping_stays,
    desk::a_booking_of_two_rooms_gets_two_rooms,
    changes::a_guest_moves_a_stay_new_hold_first_old_hold_after,
    changes::a_change_that_cannot_be_held_leaves_the_booking_as_it_was,
    changes::the_hotel_upgrades_a_stay_at_the_booked_price,
    changes::a_change_owing_a_payment_fails_fast_when_the_provider_is_down,
    changes::changes_that_owe_nothing_new_keep_the_payment_owed,
    saga::holds_come_back_even_when_the_release_after_a_change_is_lost,
    booking::lists_show_a_guest_their_own_and_a_hotel_its_own,
    payment::a_booking_opens_its_payment_and_keeps_the_checkout_link,
    payment::a_provider_down_fails_the_booking_fast_and_holds_nothing,
    payment::a_keyed_booking_keeps_its_hold_for_the_retry_when_the_provider_is_down,
    payment::a_declined_payment_cancels_the_booking_and_gives_the_rooms_back,
    payment::refunds_are_recorded_on_the_booking_once,
);

fn key(text: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey::parse(text).expect("key"))
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
