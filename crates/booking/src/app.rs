//! The booking use cases: [`BookingService`] implements [`BookingApi`] over a store and the
//! catalog's contract. One use case per file:
//! - `create`, `cancel`, `modify` (and upgrade), `front_desk` (check-in, check-out, no-show),
//!   `queries` (lists); `idempotency` runs any of them once per `Idempotency-Key`;
//! - the saga's consumers: `payments` (payment succeeded: confirm), `expiry` (the catalog
//!   expired a hold: expire), `releases` (give back holds that changes ended).
//!
//! Order of effects, so that a crash anywhere leaves nothing oversold and nothing leaked:
//! - create: quote, **hold** (hold id = booking id), **open the payment** (the payment
//!   service's intent, idempotent per booking id), then record. A failed payment or record
//!   releases the hold (but a keyed request whose failure is worth retrying keeps it for its
//!   retry, which runs on the same booking id); a crash in between leaves a hold that expires
//!   by its TTL and an intent the payment service sweeps (no booking event ever names it).
//! - modify: **hold the new stay**, **open the payment the change owes** (a new price or a
//!   balance, keyed by the change's version), sell the new stay for a paid booking, record,
//!   then give the old hold back. upgrade: the same without a payment.
//! - cancel, modify, upgrade: the old hold is given back right after the record; if that
//!   fails or the process dies first, `releases` (a consumer of the service's own events)
//!   gives it back. Releasing is idempotent by hold id, so rooms are never freed twice.

use std::sync::Arc;

use innkeeper_catalog::api::CatalogClient;
use innkeeper_kernel::{
    Clock, Error, ErrorCode, HoldId, Page, Principal, Result, Role, RoomId, RoomTypeId,
};
use innkeeper_payment::api::PaymentClient;
use tracing::instrument;

use crate::api::*;
use crate::domain::booking::Decided;
use crate::domain::reference;
use crate::store::{Append, AppendError, BookingStore, Completion};
use idempotency::{Keyed, Running};

mod cancel;
mod create;
pub(crate) mod expiry;
mod front_desk;
mod idempotency;
mod modify;
pub(crate) mod payments;
mod queries;
pub(crate) mod releases;

#[cfg(test)]
mod tests;

/// How many references a creation draws before giving up (a collision is ~1 in 10^8 per
/// draw at a million bookings).
const REFERENCE_DRAWS: usize = 5;

/// How often a change decided on a booking that changed meanwhile is decided again, when the
/// caller did not pin a version with `If-Match`.
const STALE_RETRIES: usize = 3;

/// Tunables of the booking service.
#[derive(Debug, Clone)]
pub struct BookingSettings {
    /// Longest stay that can be booked, nights.
    pub max_nights: u32,
    /// How long the rooms of an unpaid booking stay held, seconds.
    pub hold_ttl_seconds: u32,
    /// The policy snapshotted into new bookings (until hotels set their own in the catalog).
    pub cancellation_policy: CancellationPolicy,
    /// How long an idempotent request may run before a repeat of it may run again, seconds.
    pub idempotency_lease_seconds: u32,
    /// How long idempotency keys are kept (at least 24 h), seconds.
    pub idempotency_retention_seconds: u32,
    /// Where the provider's checkout sends the guest after paying: an absolute http(s) URL in
    /// which `{id}` and `{reference}` stand for the booking's.
    pub payment_return_url: String,
}

impl Default for BookingSettings {
    fn default() -> Self {
        Self {
            max_nights: 30,
            hold_ttl_seconds: 900,
            cancellation_policy: CancellationPolicy::default(),
            idempotency_lease_seconds: 60,
            idempotency_retention_seconds: 48 * 3600,
            payment_return_url: DEFAULT_PAYMENT_RETURN_URL.to_owned(),
        }
    }
}

/// The default of [`BookingSettings::payment_return_url`].
pub const DEFAULT_PAYMENT_RETURN_URL: &str = "http://127.0.0.1:8080/bookings/{id}";

/// The booking service: implements [`BookingApi`] in-process.
#[derive(Clone)]
pub struct BookingService {
    store: Arc<dyn BookingStore>,
    catalog: CatalogClient,
    /// Opens the payment of each new booking; `None` where no payment service runs (bookings
    /// then wait for a `payment.succeeded` from elsewhere, without a checkout link).
    payments: Option<PaymentClient>,
    clock: Arc<dyn Clock>,
    settings: BookingSettings,
}

impl std::fmt::Debug for BookingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookingService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The append of one decided change, completing the idempotent request it answers.
fn append_of(decided: &Decided, idempotency: Option<Completion>) -> Append {
    Append {
        expected_version: decided.event.version - 1,
        events: vec![decided.event.clone()],
        booking: decided.booking.clone(),
        idempotency,
        assignment: Vec::new(),
    }
}

/// The completion of `running` (if any) answering with `booking`.
fn completion(
    running: Option<&Running>,
    booking: &Booking,
    now: time::OffsetDateTime,
) -> Result<Option<Completion>> {
    running.map(|r| r.completion(booking, now)).transpose()
}

impl BookingService {
    /// A service over a migrated store, the catalog and (if one runs) the payment service.
    pub(crate) fn new(
        store: Arc<dyn BookingStore>,
        catalog: CatalogClient,
        payments: Option<PaymentClient>,
        clock: Arc<dyn Clock>,
        settings: BookingSettings,
    ) -> Self {
        Self {
            store,
            catalog,
            payments,
            clock,
            settings,
        }
    }

    /// The booking, if the caller may see it; `not_found` otherwise (never 403: another
    /// guest's booking does not exist for them).
    async fn visible(&self, caller: &Principal, id: BookingId) -> Result<Booking> {
        self.store
            .get(id)
            .await?
            .filter(|b| caller.may_see_booking(b.guest_id, b.hotel_owner_id))
            .ok_or_else(|| Error::not_found("booking", id))
    }

    /// A keyed change of an existing booking; `operation` names the method and path the key is
    /// bound to (`POST /bookings/{id}/cancel`, `PATCH /bookings/{id}`).
    fn keyed<'a>(
        &self,
        caller: &'a Principal,
        key: Option<IdempotencyKey>,
        id: BookingId,
        operation: String,
        body: serde_json::Value,
    ) -> Keyed<'a> {
        Keyed {
            caller,
            key,
            operation,
            body: body.to_string().into_bytes(),
            resource_id: id.as_uuid(),
            success_status: 200,
        }
    }

    /// Deletes idempotency keys older than the retention, up to `batch`; returns how many.
    pub async fn reap_idempotency_keys(&self, batch: u32) -> Result<u64> {
        let retention = time::Duration::seconds(i64::from(
            self.settings.idempotency_retention_seconds.max(24 * 3600),
        ));
        self.store
            .reap_idempotency_keys(self.clock.now() - retention, batch)
            .await
    }

    /// Appends through the store and counts what was recorded
    /// (`innkeeper_booking_events_total{type}`).
    async fn append(&self, append: &Append) -> std::result::Result<(), AppendError> {
        self.store.append(append).await?;
        for event in &append.events {
            metrics::counter!("innkeeper_booking_events_total", "type" => event.event.name())
                .increment(1);
        }
        Ok(())
    }

    /// Gives a hold's rooms back; a failure is logged (the hold's TTL or a later release
    /// catches it), never the caller's problem.
    async fn release(&self, hold_id: HoldId) {
        if let Err(err) = self.catalog.release_hold(hold_id).await {
            tracing::warn!(%hold_id, error = %err, "releasing a hold failed");
        }
    }
}

#[async_trait::async_trait]
impl BookingApi for BookingService {
    #[instrument(skip_all, fields(hotel_id = %new.hotel_id, room_type_id = %new.room_type_id))]
    async fn create(
        &self,
        caller: &Principal,
        new: NewBooking,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        if caller.role != Role::Guest || !caller.may_book_for(caller.user_id) {
            return Idempotent::fresh(Err(Error::new(
                ErrorCode::Forbidden,
                "only guests book rooms, for themselves",
            )));
        }
        let body = match serde_json::to_vec(&new) {
            Ok(body) => body,
            Err(e) => return Idempotent::fresh(Err(Error::internal(e))),
        };
        let request = Keyed {
            caller,
            key,
            operation: "POST /bookings".to_owned(),
            body,
            resource_id: BookingId::new().as_uuid(),
            success_status: 201,
        };
        self.idempotently(request, |id, running| {
            self.create_now(caller, new, BookingId(id), running)
        })
        .await
    }

    async fn get(&self, caller: &Principal, id: BookingId) -> Result<Booking> {
        self.visible(caller, id).await
    }

    async fn get_by_reference(&self, caller: &Principal, text: &str) -> Result<Booking> {
        let reference = reference::parse(text)
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "no booking has this reference"))?;
        let not_found = || Error::not_found("booking", &reference);
        self.store
            .get_by_reference(&reference)
            .await?
            .filter(|b| caller.may_see_booking(b.guest_id, b.hotel_owner_id))
            .ok_or_else(not_found)
    }

    #[instrument(skip_all, fields(booking_id = %id))]
    async fn cancel(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        reason: Option<String>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let body = serde_json::json!({ "if_match": if_match, "reason": reason });
        let request = self.keyed(caller, key, id, format!("POST /bookings/{id}/cancel"), body);
        self.idempotently(request, |_, running| {
            self.cancel_now(caller, id, if_match, reason, running)
        })
        .await
    }

    #[instrument(skip_all, fields(booking_id = %id))]
    async fn modify(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        patch: BookingPatch,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let body = serde_json::json!({ "if_match": if_match, "patch": patch });
        let request = self.keyed(caller, key, id, format!("PATCH /bookings/{id}"), body);
        self.idempotently(request, |_, running| {
            self.modify_now(caller, id, if_match, patch, running)
        })
        .await
    }

    #[instrument(skip_all, fields(booking_id = %id))]
    async fn upgrade(
        &self,
        caller: &Principal,
        id: BookingId,
        room_type_id: RoomTypeId,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let body = serde_json::json!({ "if_match": if_match, "room_type_id": room_type_id });
        let request = self.keyed(
            caller,
            key,
            id,
            format!("POST /bookings/{id}/upgrade"),
            body,
        );
        self.idempotently(request, |_, running| {
            self.upgrade_now(caller, id, room_type_id, if_match, running)
        })
        .await
    }

    #[instrument(skip_all, fields(booking_id = %id))]
    async fn check_in(
        &self,
        caller: &Principal,
        id: BookingId,
        room_id: Option<RoomId>,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let body = serde_json::json!({ "if_match": if_match, "room_id": room_id });
        let request = self.keyed(
            caller,
            key,
            id,
            format!("POST /bookings/{id}/check-in"),
            body,
        );
        self.idempotently(request, |_, running| {
            self.check_in_now(caller, id, room_id, if_match, running)
        })
        .await
    }

    #[instrument(skip_all, fields(booking_id = %id))]
    async fn check_out(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let body = serde_json::json!({ "if_match": if_match });
        let request = self.keyed(
            caller,
            key,
            id,
            format!("POST /bookings/{id}/check-out"),
            body,
        );
        self.idempotently(request, |_, running| {
            self.check_out_now(caller, id, if_match, running)
        })
        .await
    }

    #[instrument(skip_all, fields(booking_id = %id))]
    async fn no_show(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let body = serde_json::json!({ "if_match": if_match });
        let request = self.keyed(
            caller,
            key,
            id,
            format!("POST /bookings/{id}/no-show"),
            body,
        );
        self.idempotently(request, |_, running| {
            self.no_show_now(caller, id, if_match, running)
        })
        .await
    }

    async fn list(&self, caller: &Principal, query: BookingQuery) -> Result<Page<Booking>> {
        self.list_now(caller, query).await
    }

    async fn history(&self, caller: &Principal, id: BookingId) -> Result<Vec<HistoryEntry>> {
        self.visible(caller, id).await?;
        let events = self.store.events(id).await?;
        Ok(events.iter().map(|e| e.to_history()).collect())
    }
}
