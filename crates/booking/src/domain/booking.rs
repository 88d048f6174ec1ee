//! The booking aggregate. Its state is a fold of its events ([`apply`], [`rebuild`]);
//! commands check the status machine and the rules of the moment, then return the one event
//! they decided together with the state it leads to ([`Decided`]).

use innkeeper_kernel::{Error, HoldId, Money, Result, RoomId, RoomTypeId, StayDates};
use time::{Date, OffsetDateTime};

use crate::api::{
    Actor, Booking, BookingId, BookingPayment, BookingStatus, PaymentLink, PaymentState, PriceRule,
    PriceSnapshot, Refund, RefundRule, UpgradeNote,
};
use crate::domain::events::{
    BookingEvent, Created, Modified, PAYMENT_FAILED, PaymentFailure, RecordedEvent,
};

/// The payment service's refund reasons that settle a booking's own changes
/// (`innkeeper_payment`'s consumer of booking events names them so).
const REFUND_MODIFICATION: &str = "modification";
const REFUND_SUPERSEDED: &str = "superseded";
const REFUND_LATE_PAYMENT: &str = "late_payment";
use crate::domain::policy;
use crate::domain::status::{self, Action};

/// A decided change: the event to append (at `booking.version`) and the state after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decided {
    pub event: RecordedEvent,
    pub booking: Booking,
}

/// A stored stream that does not make a booking: never the client's fault.
fn corrupt(id: BookingId, why: impl std::fmt::Display) -> Error {
    Error::internal(format!("booking {id}: event stream is inconsistent: {why}"))
}

/// The state after `event`. `state` is `None` before the first event.
pub(crate) fn apply(state: Option<Booking>, event: &RecordedEvent) -> Result<Booking> {
    let id = event.booking_id;
    let Some(mut booking) = state else {
        return match &event.event {
            BookingEvent::Created(created) if event.version == 1 => {
                Ok(created_booking(id, created, event.at))
            }
            other => Err(corrupt(id, format!("starts with {}", other.name()))),
        };
    };
    if booking.id != id || event.version != booking.version + 1 {
        return Err(corrupt(
            id,
            format!("version {} after {}", event.version, booking.version),
        ));
    }
    let action = match &event.event {
        BookingEvent::Created(_) => return Err(corrupt(id, "created twice")),
        BookingEvent::Confirmed { amount, payment_id } => {
            booking.paid = booking
                .paid
                .checked_add(*amount)
                .map_err(|e| corrupt(id, e))?;
            booking.payment.status = PaymentState::Paid;
            booking.payment.payment_id.get_or_insert(*payment_id);
            Action::Confirm
        }
        BookingEvent::Cancelled {
            refund,
            payment_failure,
            ..
        } => {
            booking.refund = Some(*refund);
            if booking.payment.status == PaymentState::BalanceDue {
                // The balance's link is cancelled with the booking; the policy applies to what
                // was paid.
                booking.payment.status = PaymentState::Paid;
                booking.payment.due = None;
                booking.payment.checkout_url = None;
            }
            if let Some(failure) = payment_failure {
                booking.payment.status = PaymentState::Failed;
                booking.payment.payment_id.get_or_insert(failure.payment_id);
            }
            Action::Cancel
        }
        BookingEvent::Refunded {
            payment_id,
            amount,
            reason,
            ..
        } => {
            // Refunds the booking's own changes decided (or of payments it never counted)
            // leave the payment's state as it is while the booking lives.
            let settles_a_change = matches!(
                reason.as_str(),
                REFUND_MODIFICATION | REFUND_SUPERSEDED | REFUND_LATE_PAYMENT
            ) && !matches!(
                booking.status,
                BookingStatus::Cancelled | BookingStatus::Expired
            );
            if !settles_a_change {
                booking.payment.status = PaymentState::Refunded;
                booking.payment.due = None;
            }
            booking.payment.payment_id.get_or_insert(*payment_id);
            let before = booking
                .payment
                .refunded
                .unwrap_or_else(|| Money::zero(amount.currency));
            booking.payment.refunded =
                Some(before.checked_add(*amount).map_err(|e| corrupt(id, e))?);
            Action::RecordRefund
        }
        BookingEvent::BalancePaid { amount, .. } => {
            booking.paid = booking
                .paid
                .checked_add(*amount)
                .map_err(|e| corrupt(id, e))?;
            booking.payment.status = PaymentState::Paid;
            booking.payment.due = None;
            Action::RecordPayment
        }
        BookingEvent::Expired {} => Action::Expire,
        BookingEvent::CheckedIn { room_ids } => {
            booking.room_ids = room_ids.clone();
            if booking.payment.status == PaymentState::BalanceDue {
                // From now on the front desk collects the balance: its link is cancelled.
                booking.payment.checkout_url = None;
            }
            Action::CheckIn
        }
        BookingEvent::CheckedOut {} => Action::CheckOut,
        BookingEvent::NoShow {} => Action::NoShow,
        BookingEvent::Modified(m) => {
            settle_change(&mut booking, m).map_err(|e| corrupt(id, e))?;
            booking.room_type_id = m.room_type_id;
            booking.hold_id = m.hold_id;
            booking.stay = m.stay;
            booking.guests = m.guests;
            booking.rooms = m.rooms;
            booking.price = m.price.clone();
            booking.hold_expires_at = m.hold_expires_at;
            Action::Modify
        }
        BookingEvent::Upgraded {
            from_room_type_id,
            room_type_id,
            hold_id,
            price_rule,
            hold_expires_at,
        } => {
            booking.room_type_id = *room_type_id;
            booking.hold_id = *hold_id;
            booking.hold_expires_at = *hold_expires_at;
            booking.upgrade = Some(UpgradeNote {
                from_room_type_id: *from_room_type_id,
                price_rule: *price_rule,
            });
            Action::Upgrade
        }
    };
    booking.status = status::next(booking.status, action)
        .ok_or_else(|| corrupt(id, status::not_allowed(booking.status, action)))?;
    booking.version = event.version;
    booking.updated_at = event.at;
    Ok(booking)
}

/// What a change does to the booking's payment: the payment it opened becomes the one to pay,
/// a balance makes it `balance_due`, a balance no longer owed is dropped, and a refund lowers
/// `paid`.
fn settle_change(booking: &mut Booking, m: &Modified) -> Result<()> {
    if let Some(link) = &m.payment {
        booking.payment.payment_id = Some(link.payment_id);
        booking.payment.checkout_url = Some(link.checkout_url.clone());
    }
    if let Some(refund) = m.refund_due {
        booking.paid = minus(booking.paid, refund)?;
    }
    if booking.status != BookingStatus::PendingPayment {
        if let Some(due) = m.balance_due {
            booking.payment.status = PaymentState::BalanceDue;
            booking.payment.due = Some(due);
            if m.payment.is_none() {
                // Owed, but no payment service runs here: payable at the hotel.
                booking.payment.checkout_url = None;
            }
        } else if booking.payment.status == PaymentState::BalanceDue
            && booking.paid.amount >= m.price.total.amount
        {
            // The change left nothing owing: the balance's link is given up. (Otherwise the
            // same balance is still owed at the same link.)
            booking.payment.status = PaymentState::Paid;
            booking.payment.due = None;
            booking.payment.checkout_url = None;
        }
    }
    Ok(())
}

fn created_booking(id: BookingId, c: &Created, at: OffsetDateTime) -> Booking {
    Booking {
        id,
        reference: c.reference.clone(),
        status: BookingStatus::PendingPayment,
        guest_id: c.guest_id,
        hotel_id: c.hotel_id,
        hotel_owner_id: c.hotel_owner_id,
        room_type_id: c.room_type_id,
        hold_id: id.hold_id(),
        stay: c.stay,
        guests: c.guests,
        rooms: c.rooms,
        guest_name: c.guest_name.clone(),
        guest_email: c.guest_email.clone(),
        special_requests: c.special_requests.clone(),
        price: c.price.clone(),
        cancellation_policy: c.cancellation_policy,
        payment: BookingPayment::awaiting(c.payment.as_ref()),
        paid: Money::zero(c.price.total.currency),
        refund: None,
        upgrade: None,
        room_ids: Vec::new(),
        hold_expires_at: c.hold_expires_at,
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

/// The booking its events make, or `None` for an empty stream.
pub(crate) fn rebuild(events: &[RecordedEvent]) -> Result<Option<Booking>> {
    events
        .iter()
        .try_fold(None, |state, event| apply(state, event).map(Some))
}

/// Records `event` as the next one of `booking`.
fn decide(
    booking: &Booking,
    event: BookingEvent,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    let event = RecordedEvent {
        booking_id: booking.id,
        version: booking.version + 1,
        event,
        actor,
        at,
    };
    let booking = apply(Some(booking.clone()), &event)?;
    Ok(Decided { event, booking })
}

/// A new booking (`created`, version 1).
pub(crate) fn create(
    id: BookingId,
    created: Created,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    policy::validate(&created.cancellation_policy)?;
    let event = RecordedEvent {
        booking_id: id,
        version: 1,
        event: BookingEvent::Created(Box::new(created)),
        actor,
        at,
    };
    let booking = apply(None, &event)?;
    Ok(Decided { event, booking })
}

/// The payment succeeded.
pub(crate) fn confirm(
    booking: &Booking,
    payment_id: uuid::Uuid,
    amount: Money,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    status::transition(booking.status, Action::Confirm)?;
    if amount.currency != booking.price.total.currency {
        return Err(Error::invalid_field(
            "amount.currency",
            format!(
                "must be the booking's currency {}",
                booking.price.total.currency
            ),
        ));
    }
    decide(
        booking,
        BookingEvent::Confirmed { payment_id, amount },
        actor,
        at,
    )
}

/// Cancels on `today`, recording the refund the booking's policy allows of what was paid.
pub(crate) fn cancel(
    booking: &Booking,
    reason: Option<String>,
    today: Date,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    status::transition(booking.status, Action::Cancel)?;
    let refund = policy::refund(
        &booking.cancellation_policy,
        booking.paid,
        booking.stay.check_in(),
        today,
    );
    decide(
        booking,
        BookingEvent::Cancelled {
            reason,
            refund,
            payment_failure: None,
            paid: Some(booking.paid),
        },
        actor,
        at,
    )
}

/// The payment was declined: the booking is cancelled (reason `payment_failed`, nothing paid
/// so nothing refunded), which gives its hold back.
pub(crate) fn fail_payment(
    booking: &Booking,
    payment_id: uuid::Uuid,
    code: String,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    status::transition(booking.status, Action::Cancel)?;
    if booking.status != BookingStatus::PendingPayment {
        return Err(Error::invalid_state(format!(
            "the booking is {}; only an unpaid booking is cancelled by a declined payment",
            booking.status
        )));
    }
    let refund = Refund {
        amount: Money::zero(booking.price.total.currency),
        rule: RefundRule::NothingPaid,
    };
    let event = BookingEvent::Cancelled {
        reason: Some(PAYMENT_FAILED.to_owned()),
        refund,
        payment_failure: Some(PaymentFailure { payment_id, code }),
        paid: None,
    };
    decide(booking, event, actor, at)
}

/// What a refund the payment service made says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefundMade {
    pub payment_id: uuid::Uuid,
    pub refund_id: uuid::Uuid,
    pub amount: Money,
    pub total_refunded: Money,
    pub reason: String,
}

/// Records money that went back to the guest; the status stays. In the booking's currency.
pub(crate) fn record_refund(
    booking: &Booking,
    refund: RefundMade,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    status::transition(booking.status, Action::RecordRefund)?;
    let currency = booking.price.total.currency;
    if refund.amount.currency != currency || refund.total_refunded.currency != currency {
        return Err(Error::invalid_field(
            "amount.currency",
            format!("must be the booking's currency {currency}"),
        ));
    }
    let event = BookingEvent::Refunded {
        payment_id: refund.payment_id,
        refund_id: refund.refund_id,
        amount: refund.amount,
        total_refunded: refund.total_refunded,
        reason: refund.reason,
    };
    decide(booking, event, actor, at)
}

/// The balance a change left owing was paid with `payment_id`, the booking's open balance.
pub(crate) fn pay_balance(
    booking: &Booking,
    payment_id: uuid::Uuid,
    amount: Money,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    status::transition(booking.status, Action::RecordPayment)?;
    if booking.payment.status != PaymentState::BalanceDue
        || booking.payment.payment_id != Some(payment_id)
    {
        return Err(Error::invalid_state(format!(
            "payment {payment_id} is not the balance the booking owes"
        )));
    }
    if amount.currency != booking.price.total.currency {
        return Err(Error::invalid_field(
            "amount.currency",
            format!(
                "must be the booking's currency {}",
                booking.price.total.currency
            ),
        ));
    }
    decide(
        booking,
        BookingEvent::BalancePaid { payment_id, amount },
        actor,
        at,
    )
}

/// The hold lapsed unpaid.
pub(crate) fn expire(booking: &Booking, actor: Actor, at: OffsetDateTime) -> Result<Decided> {
    status::transition(booking.status, Action::Expire)?;
    decide(booking, BookingEvent::Expired {}, actor, at)
}

/// The guest arrives (from the check-in day until the last night) and gets `room_ids`: one
/// distinct room per room booked.
pub(crate) fn check_in(
    booking: &Booking,
    room_ids: Vec<RoomId>,
    today: Date,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    status::transition(booking.status, Action::CheckIn)?;
    let stay = booking.stay;
    if today < stay.check_in() || today >= stay.check_out() {
        return Err(Error::invalid_state(format!(
            "check-in is possible from {} until {}",
            stay.check_in(),
            stay.check_out()
        )));
    }
    let mut distinct = room_ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != room_ids.len() || u32::try_from(room_ids.len()) != Ok(booking.rooms) {
        return Err(Error::invalid_field(
            "room_id",
            format!("the booking needs {} distinct room(s)", booking.rooms),
        ));
    }
    decide(booking, BookingEvent::CheckedIn { room_ids }, actor, at)
}

/// The guest leaves.
pub(crate) fn check_out(booking: &Booking, actor: Actor, at: OffsetDateTime) -> Result<Decided> {
    status::transition(booking.status, Action::CheckOut)?;
    decide(booking, BookingEvent::CheckedOut {}, actor, at)
}

/// The guest did not come: only on or after the check-in day.
pub(crate) fn no_show(
    booking: &Booking,
    today: Date,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    status::transition(booking.status, Action::NoShow)?;
    if today < booking.stay.check_in() {
        return Err(Error::invalid_state(format!(
            "a no-show can be recorded from the check-in day {}",
            booking.stay.check_in()
        )));
    }
    decide(booking, BookingEvent::NoShow {}, actor, at)
}

/// New terms for a stay, already quoted and held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewTerms {
    pub room_type_id: RoomTypeId,
    pub hold_id: HoldId,
    pub stay: StayDates,
    pub guests: u32,
    pub rooms: u32,
    pub price: PriceSnapshot,
    pub hold_expires_at: OffsetDateTime,
}

/// Whether the booking may be changed on `today` (before anything is quoted or held).
pub(crate) fn check_modifiable(booking: &Booking, today: Date) -> Result<()> {
    status::transition(booking.status, Action::Modify)?;
    if today >= booking.stay.check_in() {
        return Err(Error::invalid_state(format!(
            "the booking can be changed only before its check-in day {}",
            booking.stay.check_in()
        )));
    }
    Ok(())
}

/// What a change to a stay priced `new_total` asks of the booking's payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payable {
    /// Nothing new to pay or give back (the price is the same, or the balance owed is).
    Nothing,
    /// An unpaid booking's new price: a new payment replaces the one not paid.
    Price(Money),
    /// A paid booking is now owed this much more: a payment for the balance.
    Balance(Money),
    /// A paid booking was paid this much more than its new price: it goes back.
    Refund(Money),
}

/// What changing `booking` to a stay priced `new_total` leaves to settle: decided on what the
/// booking has counted as paid (`paid`), so a refund or balance already decided is never
/// decided twice.
pub(crate) fn payable(booking: &Booking, new_total: Money) -> Result<Payable> {
    if new_total.currency != booking.price.total.currency {
        return Err(Error::invalid_state(
            "the new room type is priced in another currency",
        ));
    }
    if booking.status == BookingStatus::PendingPayment {
        return Ok(if new_total == booking.price.total {
            Payable::Nothing
        } else {
            Payable::Price(new_total)
        });
    }
    let owed = minus(new_total, booking.paid)?;
    Ok(match owed.amount {
        0 => Payable::Nothing,
        n if n > 0 && booking.payment.due == Some(owed) => Payable::Nothing,
        n if n > 0 => Payable::Balance(owed),
        n => Payable::Refund(Money {
            amount: -n,
            currency: owed.currency,
        }),
    })
}

/// `a - b` in their (common) currency.
fn minus(a: Money, b: Money) -> Result<Money> {
    if a.currency != b.currency {
        return Err(Error::invalid_state(format!(
            "{} and {} are different currencies",
            a.currency, b.currency
        )));
    }
    let amount = a
        .amount
        .checked_sub(b.amount)
        .ok_or_else(|| Error::invalid_request("amount overflow"))?;
    Ok(Money {
        amount,
        currency: a.currency,
    })
}

/// The payment a booking's guest still has to pay and that a change may replace: an unpaid
/// booking's, or an open balance (one with a link).
fn replaceable_payment(booking: &Booking) -> Option<uuid::Uuid> {
    match (booking.status, booking.payment.status) {
        (BookingStatus::PendingPayment, PaymentState::AwaitingPayment) => {
            booking.payment.payment_id
        }
        (_, PaymentState::BalanceDue) if booking.payment.checkout_url.is_some() => {
            booking.payment.payment_id
        }
        _ => None,
    }
}

/// Changes the terms before the check-in day, recording the price difference and how it is
/// settled: `payable` as [`payable`] decided it, `payment` the payment opened for it (a new
/// price or a balance; absent where no payment service runs).
pub(crate) fn modify(
    booking: &Booking,
    terms: NewTerms,
    (payable, payment): (Payable, Option<PaymentLink>),
    today: Date,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    check_modifiable(booking, today)?;
    if payable != self::payable(booking, terms.price.total)? {
        return Err(Error::conflict(
            "the booking's payment changed while it was being modified; try again",
        ));
    }
    let price_difference = terms
        .price
        .total
        .amount
        .checked_sub(booking.price.total.amount)
        .ok_or_else(|| Error::invalid_request("amount overflow"))?;
    let (balance_due, refund_due) = match payable {
        Payable::Balance(due) => (Some(due), None),
        Payable::Refund(back) => (None, Some(back)),
        Payable::Nothing | Payable::Price(_) => (None, None),
    };
    // What the guest was to pay until now stops being payable when the change owes something
    // else (a new price, another balance, nothing, or money back).
    let keeps_what_is_owed = match payable {
        // The same price unpaid, or the same balance still owed.
        Payable::Nothing => {
            booking.status == BookingStatus::PendingPayment || booking.paid != terms.price.total
        }
        // A new price replaces the old payment only with a new one to pay (none where no
        // payment service runs).
        Payable::Price(_) => payment.is_none(),
        Payable::Balance(_) | Payable::Refund(_) => false,
    };
    let replaced = if keeps_what_is_owed {
        None
    } else {
        replaceable_payment(booking)
    };
    let superseded: Vec<uuid::Uuid> = replaced
        .filter(|old| payment.as_ref().is_none_or(|new| new.payment_id != *old))
        .into_iter()
        .collect();
    let modified = Modified {
        room_type_id: terms.room_type_id,
        hold_id: terms.hold_id,
        stay: terms.stay,
        guests: terms.guests,
        rooms: terms.rooms,
        price: terms.price,
        price_difference,
        hold_expires_at: terms.hold_expires_at,
        payment,
        balance_due,
        refund_due,
        superseded,
    };
    decide(
        booking,
        BookingEvent::Modified(Box::new(modified)),
        actor,
        at,
    )
}

/// Whether the hotel may upgrade the booking on `today` (until the check-in day).
pub(crate) fn check_upgradable(booking: &Booking, today: Date) -> Result<()> {
    status::transition(booking.status, Action::Upgrade)?;
    if today > booking.stay.check_in() {
        return Err(Error::invalid_state(format!(
            "the booking can be upgraded until its check-in day {}",
            booking.stay.check_in()
        )));
    }
    Ok(())
}

/// Moves the stay to `room_type_id`, held under `hold_id` (lapsing at `hold_expires_at` if
/// unpaid), at the booked price.
pub(crate) fn upgrade(
    booking: &Booking,
    room_type_id: RoomTypeId,
    (hold_id, hold_expires_at): (HoldId, OffsetDateTime),
    today: Date,
    actor: Actor,
    at: OffsetDateTime,
) -> Result<Decided> {
    check_upgradable(booking, today)?;
    if room_type_id == booking.room_type_id {
        return Err(Error::invalid_field(
            "room_type_id",
            "is the room type already booked",
        ));
    }
    let event = BookingEvent::Upgraded {
        from_room_type_id: booking.room_type_id,
        room_type_id,
        hold_id,
        price_rule: PriceRule::Complimentary,
        hold_expires_at,
    };
    decide(booking, event, actor, at)
}

#[cfg(test)]
mod tests;
