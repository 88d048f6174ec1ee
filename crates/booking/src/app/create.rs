//! Creating a booking: validate the request, quote the stay, hold the rooms under the booking
//! id, open its payment, then record the booking with the payment's checkout link; no booking
//! without its hold, and no hold left behind when the payment cannot be opened or recording
//! fails (except for a keyed request that will be retried on the same id).

use innkeeper_catalog::api::{HoldStatus, PlaceHold};
use innkeeper_kernel::{Error, ErrorCode, Principal, Result};
use innkeeper_payment::api::{IntentPurpose, NewIntent};

use super::idempotency::{self, Running};
use super::{BookingService, REFERENCE_DRAWS, append_of, completion};
use crate::api::{
    Actor, Booking, BookingId, NewBooking, NightlyPrice, PaymentLink, PriceSnapshot, Reference,
};
use crate::domain::booking;
use crate::domain::events::Created;
use crate::domain::{reference, request};
use crate::store::AppendError;

impl BookingService {
    /// Records a new booking under its reference, drawing another if that one is taken (the
    /// payment then keeps the first: a collision is ~1 in 10^8, and the payment shows the
    /// reference only as the payer's description).
    async fn record_new(
        &self,
        id: BookingId,
        mut created: Created,
        caller: &Principal,
        running: Option<&Running>,
    ) -> Result<Booking> {
        for draw in 0..REFERENCE_DRAWS {
            if draw > 0 {
                created.reference = reference::generate(&mut rand::rng());
            }
            let now = self.clock.now();
            let decided = booking::create(id, created.clone(), Actor::user(caller), now)?;
            let done = completion(running, &decided.booking, now)?;
            match self.append(&append_of(&decided, done)).await {
                Ok(()) => return Ok(decided.booking),
                Err(AppendError::ReferenceTaken) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::internal(format!(
            "booking {id}: no free reference after {REFERENCE_DRAWS} draws"
        )))
    }

    /// Books a stay under booking id `id` (which is also the hold id).
    pub(super) async fn create_now(
        &self,
        caller: &Principal,
        new: NewBooking,
        id: BookingId,
        running: Option<Running>,
    ) -> Result<Booking> {
        let valid = request::validate(&new, self.clock.today(), self.settings.max_nights)?;
        // One catalog read before the hold: the quote names the room type's hotel, its owner
        // and what a room sleeps (the hold then re-checks every night under its lock).
        let quote = match self
            .catalog
            .quote(new.room_type_id, valid.stay, valid.rooms)
            .await
        {
            Ok(quote) if quote.hotel_id == new.hotel_id => quote,
            Ok(_) => return Err(self.not_this_hotels(new.hotel_id).await),
            Err(e) if e.code == ErrorCode::NotFound => {
                return Err(self.not_this_hotels(new.hotel_id).await);
            }
            Err(e) => return Err(e),
        };
        let sleeps = quote.capacity.saturating_mul(valid.rooms);
        if new.guests > sleeps {
            return Err(Error::invalid_field(
                "guests",
                format!(
                    "{} room(s) of this type sleep at most {sleeps}",
                    valid.rooms
                ),
            ));
        }
        let hold = self
            .catalog
            .place_hold(PlaceHold {
                hold_id: id.hold_id(),
                room_type_id: quote.room_type_id,
                stay: valid.stay,
                quantity: valid.rooms,
                ttl_seconds: self.settings.hold_ttl_seconds,
            })
            .await?;
        if hold.status != HoldStatus::Held {
            // A retry of a request whose hold has lapsed or been given back meanwhile.
            return Err(Error::conflict(
                "the rooms held for this request are no longer held; book again",
            ));
        }
        let drawn = reference::generate(&mut rand::rng());
        let (reference, payment) = match self.open_payment(id, caller, drawn, quote.total).await {
            Ok(opened) => opened,
            Err(err) => {
                // As for a failed record below: a keyed request worth retrying keeps its hold
                // for the retry; everything else gives it back at once.
                if running.is_none() || !idempotency::retryable(&err) {
                    self.release(hold.id).await;
                }
                return Err(err);
            }
        };
        let created = Created {
            reference,
            guest_id: caller.user_id,
            hotel_id: quote.hotel_id,
            hotel_owner_id: quote.hotel_owner_id,
            room_type_id: quote.room_type_id,
            stay: valid.stay,
            guests: new.guests,
            rooms: valid.rooms,
            guest_name: valid.guest_name,
            guest_email: valid.guest_email,
            special_requests: valid.special_requests,
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
            cancellation_policy: self.settings.cancellation_policy,
            hold_expires_at: hold.expires_at,
            payment,
        };
        let recorded = self.record_new(id, created, caller, running.as_ref()).await;
        if let Err(err) = &recorded {
            // No booking, no hold; except when a keyed request will be retried: the retry
            // runs on the same booking id and finds this hold (or its TTL ends it).
            if running.is_none() || !idempotency::retryable(err) {
                self.release(hold.id).await;
            }
        }
        self.expire_if_hold_lapsed(recorded?).await
    }

    /// Opens the booking's payment for `total` at the payment service (idempotent per booking
    /// id, so a retry finds the same payment), as the booking service itself, under the
    /// reference `drawn`. Answers the reference to record (the payment's: a retry keeps the
    /// one the payment was opened with) and the payment, `None` where no payment service runs.
    /// A provider that is down answers `unavailable` (503) fast.
    async fn open_payment(
        &self,
        id: BookingId,
        caller: &Principal,
        drawn: Reference,
        total: innkeeper_kernel::Money,
    ) -> Result<(Reference, Option<PaymentLink>)> {
        let Some(payments) = &self.payments else {
            return Ok((drawn, None));
        };
        let reference = &drawn;
        let return_url = self
            .settings
            .payment_return_url
            .replace("{id}", &id.to_string())
            .replace("{reference}", reference.as_str());
        let intent = payments
            .create_intent(
                &Principal::service("booking"),
                NewIntent {
                    booking_id: id.as_uuid(),
                    guest_id: caller.user_id,
                    reference: reference.as_str().to_owned(),
                    amount: total,
                    return_url,
                    purpose: IntentPurpose::Booking,
                    modification: None,
                },
            )
            .await
            .map_err(|err| match err.code {
                ErrorCode::Unavailable | ErrorCode::Timeout | ErrorCode::Internal => err,
                // A keyed retry whose price changed since its first attempt opened the payment.
                ErrorCode::Conflict => Error::conflict(
                    "the price changed since this request was first tried; book again",
                ),
                // Anything else is not the guest's doing: the payment is ours to open.
                _ => Error::internal(format!("opening the payment of booking {id}: {err}")),
            })?;
        let Some(checkout_url) = intent.checkout_url else {
            return Err(Error::new(
                ErrorCode::Unavailable,
                "the payment provider gave no checkout link; try again",
            ));
        };
        let reference = reference::parse(&intent.reference).unwrap_or(drawn);
        let link = PaymentLink {
            payment_id: intent.id.0,
            checkout_url,
        };
        Ok((reference, Some(link)))
    }

    /// Why a room type is not bookable at `hotel_id`: the hotel does not exist (404), or the
    /// room type is not one of its (422).
    async fn not_this_hotels(&self, hotel_id: innkeeper_kernel::HotelId) -> Error {
        match self.catalog.get_hotel(hotel_id).await {
            Ok(_) => Error::invalid_field("room_type_id", "is not a room type of this hotel"),
            Err(e) => e,
        }
    }

    /// A booking recorded so late that its hold may have lapsed meanwhile. The catalog's
    /// expiry event then came before the booking existed, the expiry consumer found no
    /// booking to expire, and nothing else would: so look at the hold once more, and record
    /// `expired` if the catalog has expired it. Any expiry after this read publishes its event
    /// after the booking exists, and the consumer takes it from there; the optimistic lock
    /// keeps the two from expiring the booking twice. Skipped while the hold has more than
    /// [`HOLD_CLOCK_MARGIN`] to live (clocks of the services may differ by less).
    async fn expire_if_hold_lapsed(&self, booking: Booking) -> Result<Booking> {
        if self.clock.now() + HOLD_CLOCK_MARGIN < booking.hold_expires_at {
            return Ok(booking);
        }
        let hold = match self.catalog.get_hold(booking.hold_id).await {
            Ok(hold) => hold,
            Err(err) => {
                tracing::warn!(booking_id = %booking.id, error = %err,
                    "a booking recorded near its hold's expiry could not check the hold");
                return Ok(booking);
            }
        };
        if matches!(hold.status, HoldStatus::Held | HoldStatus::Confirmed) {
            return Ok(booking);
        }
        let now = self.clock.now();
        let expired = booking::expire(&booking, Actor::service("booking.late_record"), now)?;
        let change = crate::store::Append {
            expected_version: booking.version,
            events: vec![expired.event],
            booking: expired.booking.clone(),
            idempotency: None,
            assignment: Vec::new(),
        };
        match self.append(&change).await {
            Ok(()) => Ok(expired.booking),
            // The expiry consumer (or the guest) got there first: answer what is stored now.
            Err(AppendError::VersionMismatch { .. }) => self
                .store
                .get(booking.id)
                .await?
                .ok_or_else(|| Error::internal(format!("booking {} vanished", booking.id))),
            Err(err) => Err(err.into()),
        }
    }
}

/// How much life a hold must have left for a freshly recorded booking to skip checking it
/// (more than the clock difference between the booking and catalog services can be).
const HOLD_CLOCK_MARGIN: time::Duration = time::Duration::seconds(30);
