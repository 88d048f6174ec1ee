//! The payment service's contract: what the booking service, the gateway and the provider's
//! webhooks may ask of it.
//!
//! [`PaymentApi`] is implemented by the in-process service (`app::PaymentService`); a gRPC
//! client will implement it too. Callers hold a [`PaymentClient`] and never know which.

use std::sync::Arc;

use innkeeper_kernel::{Error, Money, Principal, Result, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A payment's id (a UUIDv7): one payment intent per booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentId(pub Uuid);

impl PaymentId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses a UUID string, naming the field on failure.
    pub fn parse_field(field: &str, s: &str) -> Result<Self> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| Error::invalid_field(field, "must be a payment id (UUID)"))
    }
}

impl Default for PaymentId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for PaymentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a payment is.
///
/// `creating -> requires_payment -> processing -> succeeded`; `requires_payment | processing ->
/// failed` (declined: the booking is cancelled); `creating | requires_payment | processing ->
/// canceled` (the booking ended unpaid). A payment that succeeds after `failed` or `canceled`
/// is `succeeded` and refunded automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Recorded here, not yet confirmed by the provider (it was unreachable).
    Creating,
    /// The provider has the intent; the guest pays at `checkout_url`.
    RequiresPayment,
    /// Paid, settling at the provider.
    Processing,
    /// The money is captured.
    Succeeded,
    /// The payment was declined.
    Failed,
    /// Given up before it was paid (the booking expired or was cancelled).
    Canceled,
}

impl PaymentStatus {
    /// Every status.
    pub const ALL: [PaymentStatus; 6] = [
        Self::Creating,
        Self::RequiresPayment,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Canceled,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::RequiresPayment => "requires_payment",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a payment is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentPurpose {
    /// The booking's price: paying it confirms a booking waiting for payment. A booking
    /// changed before it was paid gets a new one for its new price (the old one is cancelled).
    #[default]
    Booking,
    /// The balance a change of a paid booking left owing: paying it adds to what was paid and
    /// changes nothing else. A declined card leaves it payable.
    Balance,
}

impl IntentPurpose {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booking => "booking",
            Self::Balance => "balance",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Booking, Self::Balance]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// A booking's payment intent. A booking has one per price it asked to be paid: its own, and
/// one per change that moved what is owed (`modification`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub id: PaymentId,
    pub booking_id: Uuid,
    /// The booking's price, or the balance of a change.
    #[serde(default)]
    pub purpose: IntentPurpose,
    /// The booking version of the change this payment was opened for; absent for the
    /// booking's first payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modification: Option<i64>,
    /// The guest who pays (who may see the payment).
    pub guest_id: UserId,
    /// The booking's human reference, shown to the payer.
    pub reference: String,
    pub status: PaymentStatus,
    /// What is to be paid: the booking's price snapshot total, or the balance of a change.
    pub amount: Money,
    /// Refunded so far (minor units of `amount`'s currency).
    pub amount_refunded: i64,
    /// Where the guest pays; absent until the provider has the intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    /// Where the checkout sends the guest afterwards.
    pub return_url: String,
    /// The provider's id (`pi_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_intent_id: Option<String>,
    /// Why the payment failed (the provider's decline code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Refunds, oldest first (filled by reads that show a payment).
    #[serde(default)]
    pub refunds: Vec<RefundRecord>,
    /// Incremented by every change.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Where a refund is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Recorded; the provider has not confirmed it yet (it is retried until it does).
    Pending,
    /// The provider refunded it.
    Succeeded,
    /// The provider refused it for good (`last_error` says why).
    Failed,
}

impl RefundStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// A refund of (part of) a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRecord {
    pub id: Uuid,
    pub payment_id: PaymentId,
    pub booking_id: Uuid,
    /// The caller's key: one refund per payment and key.
    pub key: String,
    pub amount: Money,
    /// Why (`cancellation`, `late_payment`, `expired`, ...).
    pub reason: String,
    pub status: RefundStatus,
    /// The provider's id (`re_...`), once it refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_refund_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What the booking service asks for when a booking is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIntent {
    pub booking_id: Uuid,
    /// The guest who will pay.
    pub guest_id: UserId,
    /// The booking's human reference (`INK-...`).
    pub reference: String,
    /// What is to be paid: the booking's price snapshot total, or the balance of a change.
    pub amount: Money,
    /// Where the checkout page sends the guest afterwards (an absolute http(s) URL).
    pub return_url: String,
    /// The booking's price (the default) or the balance of a change.
    #[serde(default)]
    pub purpose: IntentPurpose,
    /// The booking version of the change this payment is for (at least 2); absent for the
    /// booking's first payment. One payment per booking and modification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modification: Option<i64>,
}

/// What became of a webhook message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Verified and applied (perhaps with no change: an outcome already known).
    Applied,
    /// Seen before (a provider retry or a replay): no second effect.
    Duplicate,
    /// Verified, but about nothing this service knows (another merchant's intent, an event
    /// type it does not use).
    Ignored,
}

/// What the payment service does. A payment the caller may not see is `not_found`.
#[async_trait::async_trait]
pub trait PaymentApi: Send + Sync + 'static {
    /// Creates a booking's payment intent at the provider (a platform service or an admin
    /// only). Idempotent per booking and `modification`: a repeat answers the same intent
    /// (`conflict` if the amount or purpose differs). An intent no booking event names (the
    /// booking or its change was never recorded) is cancelled after
    /// `payment.orphan_intent_after_seconds`. `unavailable` / `timeout` fast when the provider is down: nothing is
    /// owed, and a later call for the same booking resumes (the provider sees one intent).
    async fn create_intent(&self, caller: &Principal, intent: NewIntent) -> Result<Intent>;
    /// A payment by id, with its refunds (its guest, a service or an admin).
    async fn get(&self, caller: &Principal, id: PaymentId) -> Result<Intent>;
    /// A booking's payment for its price (the latest, after changes), with its refunds (its
    /// guest, a service or an admin).
    async fn get_for_booking(&self, caller: &Principal, booking_id: Uuid) -> Result<Intent>;
    /// Refunds `amount` of a booking's payment (a platform service or an admin), idempotent
    /// per (booking, `key`). Recorded first, then sent to the provider: a refund the provider
    /// could not take now comes back `pending` and is retried until it does.
    async fn refund(
        &self,
        caller: &Principal,
        booking_id: Uuid,
        amount: Money,
        reason: &str,
        key: &str,
    ) -> Result<RefundRecord>;
    /// A provider webhook as received: `unauthenticated` when the signature or its timestamp
    /// does not verify, `invalid_request` when a signed body is unreadable.
    async fn handle_webhook(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookOutcome>;
}

/// A handle on the payment service; local or remote, callers never ask which.
#[derive(Clone)]
pub struct PaymentClient(Arc<dyn PaymentApi>);

impl PaymentClient {
    /// A client that calls an implementation directly.
    pub fn new(api: Arc<dyn PaymentApi>) -> Self {
        Self(api)
    }
}

impl std::fmt::Debug for PaymentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaymentClient")
    }
}

impl std::ops::Deref for PaymentClient {
    type Target = dyn PaymentApi;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
