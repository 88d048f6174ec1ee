//! Changing a booking's stay; the new stay is always held before the old hold is given back.
//!
//! Modifying (the guest, before the check-in day, `If-Match` required): requote,
//! hold the new stay **before** giving the old hold back, open the payment the change needs,
//! record the new terms and how the price difference is settled. For a paid booking the new
//! hold is confirmed at once (the sale moves). Any failure before the record gives the new
//! hold back and leaves the booking as it was (a payment opened for it is never named by a
//! booking event, so the payment service sweeps it as an orphan).
//!
//! Settling (`domain::booking::payable`, on what the booking counted as `paid`):
//! - unpaid, new price: a payment for the new price is opened (keyed by the booking and the
//!   change's version) and replaces the old one, which the payment service cancels (money
//!   that reaches it all the same is refunded; the booking ignores it);
//! - paid, dearer: a payment for the balance is opened (`balance_due`, its own checkout
//!   link); paying it records `balance_paid`; a decline leaves it payable;
//! - paid, cheaper: `paid` goes down by the difference and the payment service refunds it
//!   (a partial refund keyed by the change); an open balance is given up.

use innkeeper_catalog::api::{HoldStatus, PlaceHold};
use innkeeper_kernel::{Error, ErrorCode, HoldId, Principal, Result, Role, RoomTypeId, StayDates};

use super::idempotency::Running;
use super::{BookingService, append_of, completion};
use innkeeper_payment::api::{IntentPurpose, NewIntent};

use crate::api::{
    Actor, Booking, BookingId, BookingPatch, BookingStatus, NightlyPrice, PaymentLink,
    PriceSnapshot,
};
use crate::domain::booking::{self, NewTerms, Payable};

impl BookingService {
    pub(super) async fn modify_now(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        patch: BookingPatch,
        running: Option<Running>,
    ) -> Result<Booking> {
        let expected = if_match.ok_or_else(|| {
            Error::new(
                ErrorCode::PreconditionRequired,
                "a change needs If-Match with the booking's version",
            )
        })?;
        if patch == BookingPatch::default() {
            return Err(Error::invalid_request("nothing to change"));
        }
        let current = self.visible(caller, id).await?;
        if caller.role != Role::Guest || caller.user_id != current.guest_id {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "only the guest changes a booking",
            ));
        }
        if expected != current.version {
            return Err(Error::version_mismatch(current.version));
        }
        let today = self.clock.today();
        booking::check_modifiable(&current, today)?;
        let stay = StayDates::new(
            patch.check_in.unwrap_or(current.stay.check_in()),
            patch.check_out.unwrap_or(current.stay.check_out()),
            today,
            self.settings.max_nights,
        )?;
        let guests = patch.guests.unwrap_or(current.guests);
        if guests == 0 {
            return Err(Error::invalid_field("guests", "must be at least 1"));
        }
        let room_type_id = patch.room_type_id.unwrap_or(current.room_type_id);
        let hotel = self.catalog.get_hotel(current.hotel_id).await?;
        let room_type = hotel
            .room_types
            .iter()
            .find(|rt| rt.id == room_type_id)
            .ok_or_else(|| {
                Error::invalid_field("room_type_id", "is not a room type of this hotel")
            })?;
        let sleeps = room_type.capacity.saturating_mul(current.rooms);
        if guests > sleeps {
            return Err(Error::invalid_field(
                "guests",
                format!(
                    "{} room(s) of this type sleep at most {sleeps}",
                    current.rooms
                ),
            ));
        }
        let quote = self
            .catalog
            .quote(room_type_id, stay, current.rooms)
            .await?;
        let hold_id = HoldId::new();
        let hold = self
            .catalog
            .place_hold(PlaceHold {
                hold_id,
                room_type_id,
                stay,
                quantity: current.rooms,
                ttl_seconds: self.settings.hold_ttl_seconds,
            })
            .await?;
        let outcome = self
            .record_modification(caller, &current, &hold, stay, guests, &quote, running)
            .await;
        match outcome {
            Ok(changed) => {
                self.release(current.hold_id).await;
                Ok(changed)
            }
            Err(err) => {
                self.release(hold_id).await;
                Err(err)
            }
        }
    }

    /// With the new hold placed: confirm it for a paid booking, then record the new terms.
    #[allow(clippy::too_many_arguments)]
    async fn record_modification(
        &self,
        caller: &Principal,
        current: &Booking,
        hold: &innkeeper_catalog::api::Hold,
        stay: StayDates,
        guests: u32,
        quote: &innkeeper_catalog::api::Quote,
        running: Option<Running>,
    ) -> Result<Booking> {
        let payable = booking::payable(current, quote.total)?;
        let payment = self.open_change_payment(current, payable).await?;
        if current.status == BookingStatus::Confirmed {
            let sold = self.catalog.confirm_hold(hold.id).await?;
            if sold.status != HoldStatus::Confirmed {
                return Err(Error::conflict("the new stay could not be held; try again"));
            }
        }
        let terms = NewTerms {
            room_type_id: hold.room_type_id,
            hold_id: hold.id,
            stay,
            guests,
            rooms: current.rooms,
            price: PriceSnapshot {
                nights: quote
                    .nights
                    .iter()
                    .map(|n| NightlyPrice {
                        night: n.night,
                        price: n.price,
                    })
                    .collect(),
                total: quote.total,
            },
            hold_expires_at: hold.expires_at,
        };
        let now = self.clock.now();
        let decided = booking::modify(
            current,
            terms,
            (payable, payment),
            self.clock.today(),
            Actor::user(caller),
            now,
        )?;
        let done = completion(running.as_ref(), &decided.booking, now)?;
        self.append(&append_of(&decided, done)).await?;
        Ok(decided.booking)
    }
}

impl BookingService {
    /// Opens the payment a change needs (a new price or a balance) at the payment service,
    /// keyed by the booking and the version the change will record, as the booking service
    /// itself; `None` when nothing is to be paid or no payment service runs here. A provider
    /// that is down answers `unavailable` (503) fast and the change is not made.
    async fn open_change_payment(
        &self,
        current: &Booking,
        payable: Payable,
    ) -> Result<Option<PaymentLink>> {
        let (amount, purpose) = match payable {
            Payable::Price(amount) => (amount, IntentPurpose::Booking),
            Payable::Balance(amount) => (amount, IntentPurpose::Balance),
            Payable::Nothing | Payable::Refund(_) => return Ok(None),
        };
        let Some(payments) = &self.payments else {
            return Ok(None);
        };
        let id = current.id;
        let return_url = self
            .settings
            .payment_return_url
            .replace("{id}", &id.to_string())
            .replace("{reference}", current.reference.as_str());
        let intent = payments
            .create_intent(
                &Principal::service("booking"),
                NewIntent {
                    booking_id: id.as_uuid(),
                    guest_id: current.guest_id,
                    reference: current.reference.as_str().to_owned(),
                    amount,
                    return_url,
                    purpose,
                    modification: Some(current.version + 1),
                },
            )
            .await
            .map_err(|err| match err.code {
                ErrorCode::Unavailable | ErrorCode::Timeout | ErrorCode::Internal => err,
                // A retry of this change whose price moved since its first attempt.
                ErrorCode::Conflict => Error::conflict(
                    "the price changed since this change was first tried; try again",
                ),
                _ => Error::internal(format!(
                    "opening a payment for a change of booking {id}: {err}"
                )),
            })?;
        let Some(checkout_url) = intent.checkout_url else {
            return Err(Error::new(
                ErrorCode::Unavailable,
                "the payment provider gave no checkout link; try again",
            ));
        };
        Ok(Some(PaymentLink {
            payment_id: intent.id.0,
            checkout_url,
        }))
    }
}

impl BookingService {
    /// Holds rooms of another type for the same stay, sells them for a paid
    /// booking, records the upgrade, then gives the old hold back.
    pub(super) async fn upgrade_now(
        &self,
        caller: &Principal,
        id: BookingId,
        room_type_id: RoomTypeId,
        if_match: Option<i64>,
        running: Option<Running>,
    ) -> Result<Booking> {
        let current = self.visible(caller, id).await?;
        if !caller.may_manage(current.hotel_owner_id) {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "only the hotel's front desk upgrades a booking",
            ));
        }
        if let Some(expected) = if_match
            && expected != current.version
        {
            return Err(Error::version_mismatch(current.version));
        }
        booking::check_upgradable(&current, self.clock.today())?;
        let hotel = self.catalog.get_hotel(current.hotel_id).await?;
        let room_type = hotel
            .room_types
            .iter()
            .find(|rt| rt.id == room_type_id)
            .ok_or_else(|| {
                Error::invalid_field("room_type_id", "is not a room type of this hotel")
            })?;
        if current.guests > room_type.capacity.saturating_mul(current.rooms) {
            return Err(Error::invalid_field(
                "room_type_id",
                "sleeps fewer guests than the booking has",
            ));
        }
        let hold = self
            .catalog
            .place_hold(PlaceHold {
                hold_id: HoldId::new(),
                room_type_id,
                stay: current.stay,
                quantity: current.rooms,
                ttl_seconds: self.settings.hold_ttl_seconds,
            })
            .await?;
        match self.record_upgrade(caller, &current, &hold, running).await {
            Ok(upgraded) => {
                self.release(current.hold_id).await;
                Ok(upgraded)
            }
            Err(err) => {
                self.release(hold.id).await;
                Err(err)
            }
        }
    }

    async fn record_upgrade(
        &self,
        caller: &Principal,
        current: &Booking,
        hold: &innkeeper_catalog::api::Hold,
        running: Option<Running>,
    ) -> Result<Booking> {
        if current.status == BookingStatus::Confirmed {
            let sold = self.catalog.confirm_hold(hold.id).await?;
            if sold.status != HoldStatus::Confirmed {
                return Err(Error::conflict(
                    "the new room type could not be held; try again",
                ));
            }
        }
        let now = self.clock.now();
        let decided = booking::upgrade(
            current,
            hold.room_type_id,
            (hold.id, hold.expires_at),
            self.clock.today(),
            Actor::user(caller),
            now,
        )?;
        let done = completion(running.as_ref(), &decided.booking, now)?;
        self.append(&append_of(&decided, done)).await?;
        Ok(decided.booking)
    }
}
