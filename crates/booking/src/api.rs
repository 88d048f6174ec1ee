//! The booking service's contract: what the gateway and other services may ask of it.
//!
//! [`BookingApi`] is implemented by the in-process service (`app::BookingService`); a gRPC
//! client will implement it too. Callers hold a [`BookingClient`] and never know which.

use std::sync::Arc;

use innkeeper_kernel::{
    Error, HoldId, HotelId, Money, Night, Page, Principal, Result, Role, RoomId, RoomTypeId,
    StayDates, UserId,
};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------------
// Identity of a booking
// ---------------------------------------------------------------------------------------------

/// A booking's id (a UUIDv7). It is also the id of the booking's first inventory hold.
///
/// The kernel has no booking id yet; it lives here until the kernel adopts it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct BookingId(pub uuid::Uuid);

impl BookingId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }

    /// The id of the hold a new booking places: the booking id itself.
    pub fn hold_id(&self) -> HoldId {
        HoldId(self.0)
    }

    /// Parses a UUID string, naming the field on failure.
    pub fn parse_field(field: &str, s: &str) -> Result<Self> {
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| Error::invalid_field(field, "must be a booking id (UUID)"))
    }
}

impl Default for BookingId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for BookingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The short human reference of a booking, such as `INK-7F3K9Q`: what a guest reads out at
/// the front desk. Six characters of an alphabet without look-alikes (no 0/O, 1/I/L, U).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "INK-7F3K9Q")]
pub struct Reference(pub(crate) String);

impl Reference {
    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Status, prices, policy
// ---------------------------------------------------------------------------------------------

/// Where a booking is in its life.
///
/// `pending_payment -> confirmed -> checked_in -> checked_out`;
/// `pending_payment -> cancelled | expired`; `confirmed -> cancelled | no_show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Rooms held; waiting for the payment outcome.
    PendingPayment,
    /// Paid; the hold became a sale.
    Confirmed,
    /// The guest is in a room.
    CheckedIn,
    /// The guest has left (terminal).
    CheckedOut,
    /// Cancelled by the guest or the hotel (terminal).
    Cancelled,
    /// Not paid before the hold's TTL (terminal).
    Expired,
    /// The guest never came (terminal).
    NoShow,
}

impl BookingStatus {
    /// Every status, for tables and exhaustive tests.
    pub const ALL: [BookingStatus; 7] = [
        Self::PendingPayment,
        Self::Confirmed,
        Self::CheckedIn,
        Self::CheckedOut,
        Self::Cancelled,
        Self::Expired,
        Self::NoShow,
    ];

    /// The stored form, e.g. `pending_payment`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Confirmed => "confirmed",
            Self::CheckedIn => "checked_in",
            Self::CheckedOut => "checked_out",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::NoShow => "no_show",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether nothing can happen to the booking any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::CheckedOut | Self::Cancelled | Self::Expired | Self::NoShow
        )
    }
}

impl std::fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The price of one night of one room, as quoted when the booking was made or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NightlyPrice {
    #[schema(value_type = String, format = Date)]
    pub night: Night,
    pub price: Money,
}

/// The price of the stay, frozen at booking (or modification) time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PriceSnapshot {
    /// Per night, one room.
    pub nights: Vec<NightlyPrice>,
    /// The whole stay, all rooms.
    pub total: Money,
}

/// The cancellation terms a booking was made under: a full refund until
/// `free_until_days_before` days before check-in, then `late_refund_percent` of what was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CancellationPolicy {
    /// Cancelling at least this many days before the check-in day is free.
    pub free_until_days_before: u32,
    /// Percentage of the amount paid refunded after that (0 to 100).
    pub late_refund_percent: u8,
}

impl Default for CancellationPolicy {
    fn default() -> Self {
        Self {
            free_until_days_before: 2,
            late_refund_percent: 50,
        }
    }
}

/// Which rule of the policy a refund followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundRule {
    /// Nothing was paid, nothing to refund.
    NothingPaid,
    /// Cancelled early enough: everything paid comes back.
    FreeCancellation,
    /// Cancelled late: the policy's percentage comes back.
    LateCancellation,
}

/// A refund owed after a cancellation (the payment service executes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Refund {
    pub amount: Money,
    pub rule: RefundRule,
}

/// What an upgrade costs the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceRule {
    /// The guest keeps the price they booked: the better room is on the hotel.
    Complimentary,
}

/// An upgrade the hotel gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UpgradeNote {
    /// The room type booked before.
    pub from_room_type_id: RoomTypeId,
    pub price_rule: PriceRule,
}

/// Where the booking's payment is, as the booking's events record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Waiting for `payment.succeeded` (the guest pays at `checkout_url`).
    AwaitingPayment,
    /// Paid.
    Paid,
    /// Declined (`payment.failed`): the booking was cancelled.
    Failed,
    /// Some or all of what was paid went back to the guest (`refunded` says how much): the
    /// booking ended, or the money came back outside the booking's own changes.
    Refunded,
    /// A change of the paid booking made it dearer: `due` is owed, payable at
    /// `checkout_url` (or at the hotel). The booking stays confirmed whatever becomes of it.
    BalanceDue,
}

impl PaymentState {
    /// Every state, for tables and exhaustive tests.
    pub const ALL: [PaymentState; 5] = [
        Self::AwaitingPayment,
        Self::Paid,
        Self::Failed,
        Self::Refunded,
        Self::BalanceDue,
    ];
}

/// The booking's payment: where it is, and where the guest pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(from = "StoredPayment")]
pub struct BookingPayment {
    pub status: PaymentState,
    /// The payment service's id of the booking's latest payment (`GET /payments/{id}`): the
    /// one opened when it was made, the one for its new price after a change made before it
    /// was paid, or the balance a change left owing. Absent for a booking made where no
    /// payment service runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub payment_id: Option<uuid::Uuid>,
    /// The provider's hosted checkout page of that payment, where the guest pays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    /// What went back to the guest so far (every `payment.refunded`), when anything did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded: Option<Money>,
    /// The balance owed (status `balance_due`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Money>,
}

/// A [`BookingPayment`] as stored: the object, or the bare status that bookings recorded
/// before payments had links (their projections and stored idempotent answers still read).
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredPayment {
    Object {
        status: PaymentState,
        #[serde(default)]
        payment_id: Option<uuid::Uuid>,
        #[serde(default)]
        checkout_url: Option<String>,
        #[serde(default)]
        refunded: Option<Money>,
        #[serde(default)]
        due: Option<Money>,
    },
    Status(PaymentState),
}

impl From<StoredPayment> for BookingPayment {
    fn from(stored: StoredPayment) -> Self {
        match stored {
            StoredPayment::Object {
                status,
                payment_id,
                checkout_url,
                refunded,
                due,
            } => Self {
                status,
                payment_id,
                checkout_url,
                refunded,
                due,
            },
            StoredPayment::Status(status) => Self {
                status,
                payment_id: None,
                checkout_url: None,
                refunded: None,
                due: None,
            },
        }
    }
}

impl BookingPayment {
    /// A payment not made yet, payable at `link` (if any).
    pub fn awaiting(link: Option<&PaymentLink>) -> Self {
        Self {
            status: PaymentState::AwaitingPayment,
            payment_id: link.map(|l| l.payment_id),
            checkout_url: link.map(|l| l.checkout_url.clone()),
            refunded: None,
            due: None,
        }
    }
}

/// The payment opened for a booking when it was made: recorded in its `created` event, so
/// its history and any rebuild of it know where the guest pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentLink {
    #[schema(value_type = String, format = Uuid)]
    pub payment_id: uuid::Uuid,
    pub checkout_url: String,
}

/// Who made a change: a user (with the role they acted in) or a service acting on its own
/// (the payment saga, the expiry sweeper).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A person, through the API.
    User { user_id: UserId, role: Role },
    /// A service, such as `payment` or `booking.expiry`.
    Service { name: String },
}

impl Actor {
    /// The actor behind a caller.
    pub fn user(caller: &Principal) -> Self {
        Actor::User {
            user_id: caller.user_id,
            role: caller.role,
        }
    }

    /// A service actor.
    pub fn service(name: &str) -> Self {
        Actor::Service {
            name: name.to_owned(),
        }
    }

    /// The stored form: `guest:<uuid>`, `hotelier:<uuid>`, `admin:<uuid>`, `service:<name>`.
    pub fn to_stored(&self) -> String {
        match self {
            Actor::User { user_id, role } => format!("{}:{user_id}", role.as_str()),
            Actor::Service { name } => format!("service:{name}"),
        }
    }

    /// Parses the stored form.
    pub fn from_stored(s: &str) -> Option<Self> {
        let (kind, rest) = s.split_once(':')?;
        if kind == "service" {
            return (!rest.is_empty()).then(|| Actor::service(rest));
        }
        Some(Actor::User {
            role: Role::parse(kind)?,
            user_id: rest.parse().ok()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The booking
// ---------------------------------------------------------------------------------------------

/// A booking as its event stream makes it (and as the `bookings` projection stores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Booking {
    pub id: BookingId,
    pub reference: Reference,
    pub status: BookingStatus,
    pub guest_id: UserId,
    pub hotel_id: HotelId,
    /// The hotelier who owned the hotel when the booking was made (who may see and manage it).
    pub hotel_owner_id: UserId,
    pub room_type_id: RoomTypeId,
    /// The inventory hold currently backing the booking (the booking id until a modification).
    pub hold_id: HoldId,
    pub stay: StayDates,
    pub guests: u32,
    pub rooms: u32,
    pub guest_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_requests: Option<String>,
    pub price: PriceSnapshot,
    pub cancellation_policy: CancellationPolicy,
    pub payment: BookingPayment,
    /// What the guest has paid for the stay: every payment the booking counted (its price,
    /// balances paid), less what changes to a cheaper stay gave back (lowered when the change
    /// is recorded; the refund itself is recorded when the payment service made it). A
    /// cancellation's refund is recorded in `refund` and leaves `paid` as it was.
    pub paid: Money,
    /// The refund recorded at cancellation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Refund>,
    /// The upgrade the hotel gave, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeNote>,
    /// The physical rooms (one per room booked), once checked in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub room_ids: Vec<RoomId>,
    /// When the hold lapses if the booking is not paid.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub hold_expires_at: OffsetDateTime,
    /// The number of events in the stream: the `ETag`.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// What a guest sends to book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBooking {
    pub hotel_id: HotelId,
    pub room_type_id: RoomTypeId,
    #[schema(value_type = String, format = Date)]
    pub check_in: Date,
    #[schema(value_type = String, format = Date)]
    pub check_out: Date,
    pub guests: u32,
    /// Rooms of the type, 1 by default.
    #[serde(default)]
    pub rooms: Option<u32>,
    pub guest_name: String,
    #[serde(default)]
    pub guest_email: Option<String>,
    #[serde(default)]
    pub special_requests: Option<String>,
}

/// What a guest sends to change a booking (`PATCH`); absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub check_in: Option<Date>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub check_out: Option<Date>,
    #[serde(default)]
    pub guests: Option<u32>,
    /// Another room type of the same hotel.
    #[serde(default)]
    pub room_type_id: Option<RoomTypeId>,
}

/// Which bookings to list. A guest lists their own; a hotelier lists one of their hotels'
/// (`hotel_id` required); an admin lists any hotel's, or every booking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookingQuery {
    #[serde(default)]
    pub hotel_id: Option<HotelId>,
    #[serde(default)]
    pub status: Option<BookingStatus>,
    /// Stays that end after this day (check-out > `from`).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<Date>,
    /// Stays that begin before this day (check-in < `to`).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub to: Option<Date>,
    /// Page size, 1 to 100 (20 by default).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One entry of a booking's history (the audit trail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub version: i64,
    /// The event type, such as `created` or `cancelled`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub actor: Actor,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The event's data.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

// ---------------------------------------------------------------------------------------------
// Idempotent requests
// ---------------------------------------------------------------------------------------------

/// The `Idempotency-Key` of a request: 1 to 255 visible ASCII characters, scoped to the
/// caller. The service runs a request once per key, stores its answer (errors included once
/// it began) with the effect, and answers repeats with the stored answer for at least 24 h.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks a key as sent, naming the header on failure.
    pub fn parse(key: &str) -> Result<Self> {
        let valid = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(Error::invalid_field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        Ok(Self(key.to_owned()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The answer to a request that may carry an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct Idempotent<T> {
    /// What the request answered (now, or the first time).
    pub result: Result<T>,
    /// True when this is the stored answer of an earlier request with the same key (the
    /// REST edge sends `Idempotency-Replayed: true`).
    pub replayed: bool,
}

impl<T> Idempotent<T> {
    /// A fresh answer.
    pub fn fresh(result: Result<T>) -> Self {
        Self {
            result,
            replayed: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

/// What the booking service does so far. Every call takes the caller; a booking the caller
/// may not see is `not_found`.
#[async_trait::async_trait]
pub trait BookingApi: Send + Sync + 'static {
    /// Books a stay for the caller (a guest): quotes it, holds the rooms (hold id = booking
    /// id), records the booking `pending_payment`. `sold_out` if any night is unavailable.
    /// With a key: a repeat replays the first answer; the same key with another request is
    /// `validation_failed` (422), while the first still runs `conflict` (409).
    async fn create(
        &self,
        caller: &Principal,
        booking: NewBooking,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking>;
    /// A booking by id.
    async fn get(&self, caller: &Principal, id: BookingId) -> Result<Booking>;
    /// A booking by its human reference.
    async fn get_by_reference(&self, caller: &Principal, reference: &str) -> Result<Booking>;
    /// Cancels (the guest or the hotel's owner): releases the rooms and records the refund
    /// the cancellation policy allows. `if_match`, when given, must be the current version.
    /// Idempotent by key as [`BookingApi::create`].
    async fn cancel(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        reason: Option<String>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking>;
    /// Changes dates, guests or room type (the guest, before the check-in day; `if_match`
    /// required: `precondition_required` without it, `version_mismatch` if stale). The new
    /// stay is quoted and held before the old hold is given back; the price difference is
    /// settled: an unpaid booking gets a payment for its new price (the old link stops
    /// working), a paid one owes the balance (`balance_due`, with its own checkout link) or gets
    /// the difference back (`paid` goes down at once, `payment.refunded` when it is made).
    /// `sold_out` leaves the booking as it was; a provider that is down when a payment has to
    /// be opened is `unavailable` (nothing changed).
    async fn modify(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        patch: BookingPatch,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking>;
    /// Moves the stay to another room type of the hotel (the hotel's owner, until the
    /// check-in day): the new type is held (and, for a paid booking, sold) before the old
    /// hold is given back. The guest keeps the price (`price_rule: complimentary`).
    async fn upgrade(
        &self,
        caller: &Principal,
        id: BookingId,
        room_type_id: RoomTypeId,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking>;
    /// Checks the guest in (the hotel's owner, from the check-in day): gives them one room per
    /// room booked: `room_id` if given (of the booked type, in service), the others ready rooms
    /// of the type. A room never holds two overlapping stays (`conflict`).
    async fn check_in(
        &self,
        caller: &Principal,
        id: BookingId,
        room_id: Option<RoomId>,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking>;
    /// Checks the guest out (the hotel's owner).
    async fn check_out(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking>;
    /// Records that the guest never came (the hotel's owner, on or after the check-in day).
    async fn no_show(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking>;
    /// Bookings by check-in day (then id), a page at a time.
    async fn list(&self, caller: &Principal, query: BookingQuery) -> Result<Page<Booking>>;
    /// Every event of the booking, oldest first.
    async fn history(&self, caller: &Principal, id: BookingId) -> Result<Vec<HistoryEntry>>;
}

/// A handle on the booking service; local or remote, callers never ask which.
#[derive(Clone)]
pub struct BookingClient(Arc<dyn BookingApi>);

impl BookingClient {
    /// A client that calls an implementation directly.
    pub fn new(api: Arc<dyn BookingApi>) -> Self {
        Self(api)
    }
}

impl std::fmt::Debug for BookingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BookingClient")
    }
}

impl std::ops::Deref for BookingClient {
    type Target = dyn BookingApi;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
