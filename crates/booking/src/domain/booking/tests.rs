use innkeeper_kernel::{ErrorCode, RoomId};
use rand::{Rng as _, SeedableRng as _};
use time::Duration;

use super::*;
use crate::api::{Refund, RefundRule};
use crate::fixtures::{CHECK_IN, T0, eur, new_booking, payment, price};

fn staff() -> Actor {
    Actor::User {
        user_id: innkeeper_kernel::UserId::new(),
        role: innkeeper_kernel::Role::Hotelier,
    }
}

#[test]
fn a_new_booking_waits_for_payment_with_its_snapshots() {
    let Decided { event, booking } = new_booking();
    assert_eq!(event.version, 1);
    assert_eq!(booking.version, 1);
    assert_eq!(booking.status, BookingStatus::PendingPayment);
    assert_eq!(booking.payment.status, PaymentState::AwaitingPayment);
    assert_eq!(
        booking.hold_id,
        booking.id.hold_id(),
        "hold id = booking id"
    );
    assert_eq!(booking.price.total, eur(25_800));
    assert_eq!(booking.paid, eur(0));
    assert!(booking.reference.as_str().starts_with("INK-"));
    assert_eq!((booking.created_at, booking.updated_at), (T0, T0));
    assert_eq!(rebuild(&[event]).expect("rebuilds"), Some(booking));
}

#[test]
fn the_happy_path_is_rebuilt_from_its_events() {
    let first = new_booking();
    let mut events = vec![first.event];
    let paid = confirm(
        &first.booking,
        uuid::Uuid::now_v7(),
        eur(25_800),
        payment(),
        T0 + Duration::minutes(2),
    )
    .expect("confirm");
    assert_eq!(paid.booking.status, BookingStatus::Confirmed);
    assert_eq!(paid.booking.paid, eur(25_800));
    assert_eq!(paid.booking.payment.status, PaymentState::Paid);
    events.push(paid.event);
    let room = RoomId::new();
    let arrival = T0 + Duration::days(36);
    let inside = check_in(&paid.booking, vec![room], CHECK_IN, staff(), arrival).expect("check in");
    assert_eq!(inside.booking.room_ids, vec![room]);
    events.push(inside.event);
    let left = check_out(&inside.booking, staff(), arrival + Duration::days(2)).expect("out");
    assert_eq!(left.booking.status, BookingStatus::CheckedOut);
    assert_eq!(left.booking.version, 4);
    assert_eq!(left.booking.updated_at, arrival + Duration::days(2));
    events.push(left.event);
    assert_eq!(rebuild(&events).expect("rebuilds"), Some(left.booking));
}

#[test]
fn every_event_carries_its_actor_and_time() {
    let first = new_booking();
    let at = T0 + Duration::minutes(7);
    let cancelled = cancel(&first.booking, None, CHECK_IN, payment(), at).expect("cancel");
    assert_eq!(cancelled.event.actor, payment());
    assert_eq!(cancelled.event.at, at);
    assert_eq!(cancelled.event.version, 2);
    let entry = cancelled.event.to_history();
    assert_eq!(entry.event_type, "cancelled");
    assert_eq!(entry.actor, payment());
    assert_eq!(entry.data["refund"]["rule"], "nothing_paid");
}

#[test]
fn cancelling_refunds_what_the_policy_snapshot_allows() {
    let first = new_booking();
    // The policy in the snapshot: free until 3 days before, then 50 %.
    let paid = confirm(
        &first.booking,
        uuid::Uuid::nil(),
        eur(25_801),
        payment(),
        T0,
    )
    .expect("confirm")
    .booking;
    let early = cancel(&paid, None, CHECK_IN - Duration::days(3), staff(), T0).expect("early");
    assert_eq!(
        early.booking.refund,
        Some(Refund {
            amount: eur(25_801),
            rule: RefundRule::FreeCancellation
        })
    );
    let late = cancel(
        &paid,
        Some("ill".into()),
        CHECK_IN - Duration::days(2),
        staff(),
        T0,
    )
    .expect("late");
    assert_eq!(
        late.booking.refund,
        Some(Refund {
            amount: eur(12_900),
            rule: RefundRule::LateCancellation
        })
    );
    // Unpaid: nothing to refund, whenever.
    let unpaid = cancel(&first.booking, None, CHECK_IN, staff(), T0).expect("unpaid");
    assert_eq!(
        unpaid.booking.refund.map(|r| r.rule),
        Some(RefundRule::NothingPaid)
    );
}

#[test]
fn illegal_transitions_name_the_current_status() {
    let first = new_booking();
    let expired = expire(&first.booking, Actor::service("booking.expiry"), T0)
        .expect("expire")
        .booking;
    let err = confirm(&expired, uuid::Uuid::nil(), eur(1), payment(), T0).expect_err("refused");
    assert_eq!(err.code, ErrorCode::InvalidState);
    assert_eq!(err.code.http_status(), 409);
    assert!(err.message.contains("expired"), "{}", err.message);
    let err =
        check_in(&first.booking, vec![RoomId::new()], CHECK_IN, staff(), T0).expect_err("unpaid");
    assert!(err.message.contains("pending_payment"), "{}", err.message);
}

#[test]
fn front_desk_actions_respect_the_calendar() {
    let first = new_booking();
    let paid = confirm(
        &first.booking,
        uuid::Uuid::nil(),
        eur(25_800),
        payment(),
        T0,
    )
    .expect("confirm")
    .booking;
    let day_before = CHECK_IN - Duration::days(1);
    assert_eq!(
        no_show(&paid, day_before, staff(), T0)
            .expect_err("too early")
            .code,
        ErrorCode::InvalidState
    );
    assert!(no_show(&paid, CHECK_IN, staff(), T0).is_ok());
    assert!(check_in(&paid, vec![RoomId::new()], day_before, staff(), T0).is_err());
    assert!(
        check_in(
            &paid,
            vec![RoomId::new()],
            CHECK_IN + Duration::days(1),
            staff(),
            T0
        )
        .is_ok()
    );
    assert!(
        check_in(
            &paid,
            vec![RoomId::new()],
            CHECK_IN + Duration::days(2),
            staff(),
            T0
        )
        .is_err()
    );
    // One distinct room per room booked.
    let room = RoomId::new();
    let twice = check_in(&paid, vec![room, room], CHECK_IN, staff(), T0);
    assert_eq!(
        twice.expect_err("same room twice").errors[0].field,
        "room_id"
    );
    assert!(check_in(&paid, Vec::new(), CHECK_IN, staff(), T0).is_err());
}

#[test]
fn modifications_record_the_price_difference_and_the_new_hold() {
    let first = new_booking();
    let new_in = CHECK_IN + Duration::days(7);
    let terms = NewTerms {
        room_type_id: RoomTypeId::new(),
        hold_id: HoldId::new(),
        stay: StayDates::from_stored(new_in, new_in + Duration::days(3)).expect("stay"),
        guests: 3,
        rooms: 1,
        price: price(new_in, 3, 9_900, 1),
        hold_expires_at: T0 + Duration::minutes(30),
    };
    let changed = modify(
        &first.booking,
        terms.clone(),
        (Payable::Price(eur(29_700)), None),
        CHECK_IN - Duration::days(1),
        staff(),
        T0,
    )
    .expect("modify");
    assert_eq!(changed.booking.status, BookingStatus::PendingPayment);
    assert_eq!(changed.booking.hold_id, terms.hold_id);
    assert_eq!(changed.booking.stay, terms.stay);
    assert_eq!(changed.booking.price.total, eur(29_700));
    match &changed.event.event {
        BookingEvent::Modified(m) => assert_eq!(m.price_difference, 29_700 - 25_800),
        other => panic!("unexpected {other:?}"),
    }
    let on_the_day = modify(
        &first.booking,
        terms.clone(),
        (Payable::Price(eur(29_700)), None),
        CHECK_IN,
        staff(),
        T0,
    );
    assert_eq!(
        on_the_day.expect_err("too late").code,
        ErrorCode::InvalidState
    );
    let mut dollars = terms;
    dollars.price.total.currency =
        innkeeper_kernel::Currency::parse_field("c", "USD").expect("usd");
    assert!(
        modify(
            &first.booking,
            dollars,
            (Payable::Price(eur(29_700)), None),
            CHECK_IN - Duration::days(5),
            staff(),
            T0
        )
        .is_err()
    );
}

#[test]
fn upgrades_keep_the_price_and_note_the_room_type_booked() {
    let first = new_booking();
    let paid = confirm(
        &first.booking,
        uuid::Uuid::nil(),
        eur(25_800),
        payment(),
        T0,
    )
    .expect("confirm")
    .booking;
    let suite = RoomTypeId::new();
    let hold = (HoldId::new(), T0 + Duration::minutes(15));
    let up = upgrade(&paid, suite, hold, CHECK_IN, staff(), T0).expect("upgrade");
    assert_eq!(up.booking.room_type_id, suite);
    assert_eq!(up.booking.hold_id, hold.0);
    assert_eq!(up.booking.price, paid.price, "complimentary");
    assert_eq!(
        up.booking.upgrade,
        Some(crate::api::UpgradeNote {
            from_room_type_id: paid.room_type_id,
            price_rule: PriceRule::Complimentary
        })
    );
    assert_eq!(up.event.to_history().data["price_rule"], "complimentary");
    let same = upgrade(&paid, paid.room_type_id, hold, CHECK_IN, staff(), T0);
    assert_eq!(same.expect_err("same type").errors[0].field, "room_type_id");
    let late = upgrade(
        &paid,
        suite,
        hold,
        CHECK_IN + Duration::days(1),
        staff(),
        T0,
    );
    assert_eq!(
        late.expect_err("after check-in day").code,
        ErrorCode::InvalidState
    );
}

#[test]
fn streams_that_break_the_rules_are_refused_when_rebuilt() {
    let first = new_booking();
    let second = expire(&first.booking, payment(), T0).expect("expire");
    // A gap in the versions.
    let mut gap = second.event.clone();
    gap.version = 3;
    assert!(rebuild(&[first.event.clone(), gap]).is_err());
    // Not starting with `created`.
    assert!(rebuild(std::slice::from_ref(&second.event)).is_err());
    // A transition the machine forbids (confirmed after expired).
    let confirmed = RecordedEvent {
        version: 3,
        ..confirm(&first.booking, uuid::Uuid::nil(), eur(1), payment(), T0)
            .expect("confirm")
            .event
    };
    let err = rebuild(&[first.event.clone(), second.event, confirmed]).expect_err("refused");
    assert_eq!(err.code, ErrorCode::Internal);
    // Created twice.
    let mut again = first.event.clone();
    again.version = 2;
    assert!(rebuild(&[first.event, again]).is_err());
    assert_eq!(rebuild(&[]).expect("empty"), None);
}

/// One step of a random walk: try an action through its command.
fn attempt(booking: &Booking, action: Action, rng: &mut impl rand::Rng) -> Result<Decided> {
    let at = booking.updated_at + Duration::minutes(1);
    let today = CHECK_IN + Duration::days(rng.random_range(-5..=1));
    match action {
        Action::Confirm => confirm(booking, uuid::Uuid::now_v7(), eur(25_800), payment(), at),
        Action::Cancel => cancel(booking, None, today, staff(), at),
        Action::Expire => expire(booking, payment(), at),
        Action::CheckIn => check_in(booking, vec![RoomId::new()], CHECK_IN, staff(), at),
        Action::CheckOut => check_out(booking, staff(), at),
        Action::NoShow => no_show(booking, CHECK_IN, staff(), at),
        Action::Modify => {
            let terms = NewTerms {
                room_type_id: booking.room_type_id,
                hold_id: HoldId::new(),
                stay: booking.stay,
                guests: booking.guests,
                rooms: 1,
                price: price(CHECK_IN, 2, rng.random_range(5_000..20_000), 1),
                hold_expires_at: at + Duration::minutes(15),
            };
            let settles = payable(booking, terms.price.total)?;
            modify(
                booking,
                terms,
                (settles, None),
                CHECK_IN - Duration::days(1),
                staff(),
                at,
            )
        }
        Action::Upgrade => {
            let hold = (HoldId::new(), at + Duration::minutes(15));
            upgrade(booking, RoomTypeId::new(), hold, CHECK_IN, staff(), at)
        }
        Action::RecordRefund => record_refund(booking, refund_of(100, 100), payment(), at),
        Action::RecordPayment => match (booking.payment.due, booking.payment.payment_id) {
            (Some(due), Some(id)) if booking.payment.status == PaymentState::BalanceDue => {
                pay_balance(booking, id, due, payment(), at)
            }
            _ => {
                status::transition(booking.status, Action::RecordPayment)?;
                let event = BookingEvent::BalancePaid {
                    payment_id: uuid::Uuid::now_v7(),
                    amount: eur(100),
                };
                decide(booking, event, payment(), at)
            }
        },
    }
}

/// A refund the payment service made.
fn refund_of(amount: i64, total: i64) -> RefundMade {
    RefundMade {
        payment_id: uuid::Uuid::nil(),
        refund_id: uuid::Uuid::now_v7(),
        amount: eur(amount),
        total_refunded: eur(total),
        reason: "cancellation".to_owned(),
    }
}

#[test]
fn a_declined_payment_cancels_an_unpaid_booking_with_nothing_to_refund() {
    let first = new_booking();
    let payment_id = uuid::Uuid::now_v7();
    let failed = fail_payment(
        &first.booking,
        payment_id,
        "card_declined".to_owned(),
        payment(),
        T0 + Duration::minutes(3),
    )
    .expect("cancelled");
    assert_eq!(failed.booking.status, BookingStatus::Cancelled);
    assert_eq!(failed.booking.payment.status, PaymentState::Failed);
    assert_eq!(failed.booking.payment.payment_id, Some(payment_id));
    assert_eq!(
        failed.booking.refund,
        Some(Refund {
            amount: eur(0),
            rule: RefundRule::NothingPaid
        })
    );
    let history = failed.event.to_history();
    assert_eq!(history.event_type, "cancelled");
    assert_eq!(history.data["reason"], "payment_failed");
    assert_eq!(history.data["payment_failure"]["code"], "card_declined");
    assert_eq!(
        rebuild(&[first.event, failed.event]).expect("rebuilds"),
        Some(failed.booking.clone())
    );
    // A paid booking is never cancelled by a decline (a later success won).
    let paid = confirm(
        &new_booking().booking,
        payment_id,
        eur(25_800),
        payment(),
        T0,
    )
    .expect("confirm");
    let err = fail_payment(&paid.booking, payment_id, "x".into(), payment(), T0).expect_err("paid");
    assert_eq!(err.code, ErrorCode::InvalidState);
    // Nor one that ended.
    let err =
        fail_payment(&failed.booking, payment_id, "x".into(), payment(), T0).expect_err("ended");
    assert_eq!(err.code, ErrorCode::InvalidState);
}

#[test]
fn refunds_are_recorded_without_changing_the_status_and_rebuild_alike() {
    let first = new_booking();
    let paid = confirm(
        &first.booking,
        uuid::Uuid::nil(),
        eur(25_800),
        payment(),
        T0,
    )
    .expect("confirm");
    let cancelled = cancel(
        &paid.booking,
        None,
        CHECK_IN - Duration::days(10),
        staff(),
        T0,
    )
    .expect("cancel");
    let first_refund = record_refund(&cancelled.booking, refund_of(10_000, 10_000), payment(), T0)
        .expect("refund");
    assert_eq!(first_refund.booking.status, BookingStatus::Cancelled);
    assert_eq!(first_refund.booking.payment.status, PaymentState::Refunded);
    assert_eq!(first_refund.booking.payment.refunded, Some(eur(10_000)));
    let second = record_refund(
        &first_refund.booking,
        refund_of(15_800, 25_800),
        payment(),
        T0,
    )
    .expect("refund");
    assert_eq!(second.booking.payment.refunded, Some(eur(25_800)));
    assert_eq!(second.booking.version, 5);
    assert_eq!(second.event.to_history().event_type, "refunded");
    let events = [
        first.event,
        paid.event,
        cancelled.event,
        first_refund.event,
        second.event,
    ];
    assert_eq!(
        rebuild(&events).expect("rebuilds"),
        Some(second.booking.clone())
    );
    // Another currency is refused.
    let mut odd = refund_of(1, 1);
    odd.amount.currency = innkeeper_kernel::Currency::parse_field("c", "USD").expect("USD");
    let err = record_refund(&second.booking, odd, payment(), T0).expect_err("currency");
    assert_eq!(err.code, ErrorCode::ValidationFailed);
}

#[test]
fn the_payment_link_of_created_is_the_bookings_and_survives_every_event() {
    let guest = crate::fixtures::guest();
    let mut created = crate::fixtures::created(guest.user_id);
    let link = crate::api::PaymentLink {
        payment_id: uuid::Uuid::now_v7(),
        checkout_url: "http://127.0.0.1:8080/provider/checkout/pi_1".to_owned(),
    };
    created.payment = Some(link.clone());
    let first = create(BookingId::new(), created, Actor::user(&guest), T0).expect("create");
    assert_eq!(first.booking.payment.payment_id, Some(link.payment_id));
    assert_eq!(
        first.booking.payment.checkout_url.as_deref(),
        Some(link.checkout_url.as_str())
    );
    assert_eq!(
        first.event.to_history().data["payment"]["checkout_url"],
        link.checkout_url.as_str()
    );
    let paid =
        confirm(&first.booking, link.payment_id, eur(25_800), payment(), T0).expect("confirm");
    assert_eq!(
        paid.booking.payment.checkout_url,
        first.booking.payment.checkout_url
    );
    assert_eq!(
        rebuild(&[first.event, paid.event]).expect("rebuilds"),
        Some(paid.booking)
    );
}

/// Property: over thousands of random action sequences, a command succeeds exactly when the
/// status machine allows it, lands where the machine says, and the events alone rebuild the
/// same booking at every step.
#[test]
fn random_walks_agree_with_the_status_machine_and_the_rebuild() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x1_0c4);
    for _ in 0..2_000 {
        let first = new_booking();
        let mut booking = first.booking;
        let mut events = vec![first.event];
        for _ in 0..8 {
            let action = Action::ALL[rng.random_range(0..Action::ALL.len())];
            let before = booking.status;
            match attempt(&booking, action, &mut rng) {
                Ok(decided) => {
                    assert_eq!(Some(decided.booking.status), status::next(before, action));
                    assert_eq!(decided.event.version, booking.version + 1);
                    events.push(decided.event);
                    booking = decided.booking;
                }
                Err(err) => {
                    assert_eq!(
                        status::next(before, action),
                        None,
                        "{before} + {action:?}: {err}"
                    );
                    assert_eq!(err.code, ErrorCode::InvalidState);
                }
            }
            assert_eq!(rebuild(&events).expect("rebuilds").as_ref(), Some(&booking));
        }
    }
}

#[test]
fn bookings_stored_before_payment_links_still_read() {
    let booking = new_booking().booking;
    let mut stored = serde_json::to_value(&booking).expect("json");
    stored["payment"] = serde_json::json!("paid");
    let read: Booking = serde_json::from_value(stored).expect("the old form reads");
    assert_eq!(read.payment.status, PaymentState::Paid);
    assert_eq!(read.payment.checkout_url, None);
    let now: Booking =
        serde_json::from_value(serde_json::to_value(&booking).expect("json")).expect("reads");
    assert_eq!(now, booking);
}

#[test]
fn refunds_settling_a_change_keep_the_payment_state_of_a_live_booking() {
    let first = new_booking();
    let pending = &first.booking;
    let superseded = RefundMade {
        reason: "superseded".to_owned(),
        ..refund_of(25_800, 25_800)
    };
    let recorded = record_refund(pending, superseded, payment(), T0).expect("refund");
    assert_eq!(
        recorded.booking.payment.status,
        PaymentState::AwaitingPayment,
        "money for a replaced payment went back; the booking still waits for its own"
    );
    assert_eq!(recorded.booking.paid, eur(0));
    assert_eq!(recorded.booking.payment.refunded, Some(eur(25_800)));
    // A paid booking made cheaper: `paid` went down when the change was recorded; the refund
    // only adds up what went back.
    let paid = confirm(pending, uuid::Uuid::nil(), eur(25_800), payment(), T0).expect("confirm");
    let terms = NewTerms {
        room_type_id: paid.booking.room_type_id,
        hold_id: HoldId::new(),
        stay: paid.booking.stay,
        guests: 1,
        rooms: 1,
        price: price(CHECK_IN, 2, 9_900, 1),
        hold_expires_at: T0,
    };
    let settles = payable(&paid.booking, terms.price.total).expect("payable");
    assert_eq!(settles, Payable::Refund(eur(25_800 - 19_800)));
    let cheaper = modify(
        &paid.booking,
        terms,
        (settles, None),
        CHECK_IN - Duration::days(3),
        staff(),
        T0,
    )
    .expect("modify");
    assert_eq!(cheaper.booking.paid, eur(19_800));
    let back = RefundMade {
        reason: "modification".to_owned(),
        ..refund_of(6_000, 6_000)
    };
    let refunded = record_refund(&cheaper.booking, back, payment(), T0).expect("refund");
    assert_eq!(refunded.booking.paid, eur(19_800));
    assert_eq!(refunded.booking.payment.status, PaymentState::Paid);
    // Cancelled: the policy applies to what is paid now, and the booking's refund says so.
    let cancelled = cancel(
        &refunded.booking,
        None,
        CHECK_IN - Duration::days(10),
        staff(),
        T0,
    )
    .expect("cancel");
    assert_eq!(
        cancelled.booking.refund.map(|r| r.amount),
        Some(eur(19_800))
    );
    match &cancelled.event.event {
        BookingEvent::Cancelled { paid, .. } => assert_eq!(*paid, Some(eur(19_800))),
        other => panic!("unexpected {other:?}"),
    }
    let final_refund = record_refund(&cancelled.booking, refund_of(19_800, 25_800), payment(), T0)
        .expect("refund");
    assert_eq!(final_refund.booking.payment.status, PaymentState::Refunded);
    assert_eq!(final_refund.booking.payment.refunded, Some(eur(25_800)));
}
