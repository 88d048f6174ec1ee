//! The processor's rules, pure: payment intents and their state machine, refunds, the test
//! cards that decide an outcome, and the webhook retry schedule. No I/O, no async.
//!
//! Intent states, as Stripe names them:
//! `requires_payment_method -> succeeded | processing | canceled`, `processing -> succeeded`;
//! a declined attempt stays in `requires_payment_method` with `last_payment_error` (the payer
//! may try another card). Money moves only on `-> succeeded` (a capture of the whole amount)
//! and on refunds (at most what was captured, in total).

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

/// Most metadata keys on an intent (Stripe allows 50).
pub const MAX_METADATA_KEYS: usize = 50;
/// The largest amount accepted, in minor units (Stripe's limit for most currencies).
pub const MAX_AMOUNT: i64 = 99_999_999;

/// Where an intent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    /// Created, or the last attempt was declined: waiting for a card.
    RequiresPaymentMethod,
    /// Accepted, settling later (the delayed-success card).
    Processing,
    /// Paid: the whole amount is captured.
    Succeeded,
    /// Given up by the merchant before it was paid.
    Canceled,
}

impl IntentStatus {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::RequiresPaymentMethod => "requires_payment_method",
            IntentStatus::Processing => "processing",
            IntentStatus::Succeeded => "succeeded",
            IntentStatus::Canceled => "canceled",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [
            IntentStatus::RequiresPaymentMethod,
            IntentStatus::Processing,
            IntentStatus::Succeeded,
            IntentStatus::Canceled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// Why the last attempt to pay failed (Stripe's `last_payment_error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentError {
    /// `card_declined`, `processing_error`, ...
    pub code: String,
    /// For `card_declined`: `generic_decline`, `insufficient_funds`, ...
    pub decline_code: Option<String>,
    /// For the payer.
    pub message: String,
}

/// A payment the merchant asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    /// `pi_...`.
    pub id: String,
    /// Minor units, positive.
    pub amount: i64,
    /// ISO 4217 code in lower case, as Stripe writes it.
    pub currency: String,
    pub status: IntentStatus,
    /// Captured: `0` or `amount`.
    pub amount_received: i64,
    /// Refunded so far, at most `amount_received`.
    pub amount_refunded: i64,
    /// Where the hosted checkout sends the payer afterwards.
    pub return_url: String,
    pub description: Option<String>,
    /// The merchant's own keys (its booking reference, ...), returned as given.
    pub metadata: BTreeMap<String, String>,
    pub last_payment_error: Option<PaymentError>,
    /// The test payment method of the last attempt (`pm_card_visa`, ...).
    pub payment_method: Option<String>,
    /// When a `processing` intent settles.
    pub settle_at: Option<OffsetDateTime>,
    pub canceled_at: Option<OffsetDateTime>,
    pub cancellation_reason: Option<String>,
    /// Incremented by every change; the store's optimistic lock.
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A refund of (part of) a captured payment. Refunds here succeed at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// `re_...`.
    pub id: String,
    pub payment_intent: String,
    pub amount: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A test card (by number on the checkout page, by `pm_card_*` token through the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCard {
    /// `4242424242424242`, `pm_card_visa`: succeeds.
    Visa,
    /// `4000000000000002`, `pm_card_chargeDeclined`: declined, `generic_decline`.
    Declined,
    /// `4000000000009995`, `pm_card_chargeDeclinedInsufficientFunds`: declined,
    /// `insufficient_funds`.
    InsufficientFunds,
    /// `4000000000000119`, `pm_card_chargeDeclinedProcessingError`: `processing_error` (the
    /// processor failed; trying again may work).
    ProcessingError,
    /// `4000000000001018`, `pm_card_visa_delayed` (this imitation's own, not Stripe's):
    /// `processing` at first, `succeeded` after the configured delay.
    DelayedSuccess,
}

/// Every test card with its number and token, for the checkout page and the docs.
pub const TEST_CARDS: [(TestCard, &str, &str); 5] = [
    (TestCard::Visa, "4242424242424242", "pm_card_visa"),
    (
        TestCard::Declined,
        "4000000000000002",
        "pm_card_chargeDeclined",
    ),
    (
        TestCard::InsufficientFunds,
        "4000000000009995",
        "pm_card_chargeDeclinedInsufficientFunds",
    ),
    (
        TestCard::ProcessingError,
        "4000000000000119",
        "pm_card_chargeDeclinedProcessingError",
    ),
    (
        TestCard::DelayedSuccess,
        "4000000000001018",
        "pm_card_visa_delayed",
    ),
];

impl TestCard {
    /// The card with this number (spaces and dashes ignored).
    pub fn from_number(number: &str) -> Option<Self> {
        let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        TEST_CARDS
            .iter()
            .find(|(_, n, _)| *n == digits)
            .map(|(card, _, _)| *card)
    }

    /// The card behind a test payment method token.
    pub fn from_token(token: &str) -> Option<Self> {
        TEST_CARDS
            .iter()
            .find(|(_, _, t)| *t == token)
            .map(|(card, _, _)| *card)
    }

    /// The token naming this card.
    pub fn token(self) -> &'static str {
        TEST_CARDS
            .iter()
            .find(|(card, _, _)| *card == self)
            .map_or("pm_card_visa", |(_, _, t)| *t)
    }

    fn decline(self) -> Option<PaymentError> {
        let (code, decline_code, message) = match self {
            TestCard::Visa | TestCard::DelayedSuccess => return None,
            TestCard::Declined => (
                "card_declined",
                Some("generic_decline"),
                "Your card was declined.",
            ),
            TestCard::InsufficientFunds => (
                "card_declined",
                Some("insufficient_funds"),
                "Your card has insufficient funds.",
            ),
            TestCard::ProcessingError => (
                "processing_error",
                None,
                "An error occurred while processing your card. Try again in a little bit.",
            ),
        };
        Some(PaymentError {
            code: code.to_owned(),
            decline_code: decline_code.map(str::to_owned),
            message: message.to_owned(),
        })
    }
}

/// A state change refused because of where the intent is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnexpectedState {
    /// The status that forbids it.
    pub status: IntentStatus,
    /// What was attempted, for the message.
    pub action: &'static str,
}

impl std::fmt::Display for UnexpectedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "You cannot {} this PaymentIntent because it has a status of {}.",
            self.action,
            self.status.as_str()
        )
    }
}

/// What an attempt to pay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Paid now: capture the amount.
    Succeeded,
    /// Accepted; it settles at `settle_at`.
    Processing,
    /// Declined; the intent waits for another card.
    Failed(PaymentError),
}

impl PaymentIntent {
    fn touched(&self, now: OffsetDateTime) -> PaymentIntent {
        PaymentIntent {
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }

    /// Pays with `card`: the intent after the attempt, and what happened.
    pub fn attempt(
        &self,
        card: TestCard,
        now: OffsetDateTime,
        settle_after: Duration,
    ) -> Result<(PaymentIntent, Attempt), UnexpectedState> {
        if self.status != IntentStatus::RequiresPaymentMethod {
            return Err(UnexpectedState {
                status: self.status,
                action: "confirm",
            });
        }
        let mut next = self.touched(now);
        next.payment_method = Some(card.token().to_owned());
        if let Some(error) = card.decline() {
            next.last_payment_error = Some(error.clone());
            return Ok((next, Attempt::Failed(error)));
        }
        next.last_payment_error = None;
        if card == TestCard::DelayedSuccess {
            next.status = IntentStatus::Processing;
            next.settle_at = Some(now + settle_after);
            return Ok((next, Attempt::Processing));
        }
        next.status = IntentStatus::Succeeded;
        next.amount_received = self.amount;
        Ok((next, Attempt::Succeeded))
    }

    /// A `processing` intent whose time has come: `succeeded`, the amount captured.
    pub fn settle(&self, now: OffsetDateTime) -> Option<PaymentIntent> {
        let due = self.settle_at.is_some_and(|at| at <= now);
        if self.status != IntentStatus::Processing || !due {
            return None;
        }
        let mut next = self.touched(now);
        next.status = IntentStatus::Succeeded;
        next.amount_received = self.amount;
        next.settle_at = None;
        Some(next)
    }

    /// Cancels an unpaid intent.
    pub fn cancel(
        &self,
        reason: Option<String>,
        now: OffsetDateTime,
    ) -> Result<PaymentIntent, UnexpectedState> {
        if self.status != IntentStatus::RequiresPaymentMethod {
            return Err(UnexpectedState {
                status: self.status,
                action: "cancel",
            });
        }
        let mut next = self.touched(now);
        next.status = IntentStatus::Canceled;
        next.canceled_at = Some(now);
        next.cancellation_reason = reason;
        Ok(next)
    }

    /// What may still be refunded.
    pub fn refundable(&self) -> i64 {
        self.amount_received - self.amount_refunded
    }

    /// Refunds `amount` (everything left if `None`) as refund `id`: the intent after it and
    /// the refund.
    pub fn refund(
        &self,
        id: String,
        amount: Option<i64>,
        reason: Option<String>,
        now: OffsetDateTime,
    ) -> Result<(PaymentIntent, Refund), RefundRefused> {
        if self.status != IntentStatus::Succeeded {
            return Err(RefundRefused::NotCaptured(self.status));
        }
        let left = self.refundable();
        if left == 0 {
            return Err(RefundRefused::AlreadyRefunded);
        }
        let amount = amount.unwrap_or(left);
        if amount <= 0 {
            return Err(RefundRefused::NotPositive);
        }
        if amount > left {
            return Err(RefundRefused::TooLarge { left });
        }
        let mut next = self.touched(now);
        next.amount_refunded += amount;
        let refund = Refund {
            id,
            payment_intent: self.id.clone(),
            amount,
            currency: self.currency.clone(),
            reason,
            created_at: now,
        };
        Ok((next, refund))
    }
}

/// Why a refund was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundRefused {
    /// Nothing was captured (the intent has this status).
    NotCaptured(IntentStatus),
    /// Everything captured is refunded already.
    AlreadyRefunded,
    /// A refund of zero or less.
    NotPositive,
    /// More than is left to refund.
    TooLarge { left: i64 },
}

/// Money that moved, as the ledger records it: a capture (once per intent) or a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub payment_intent: String,
    pub kind: LedgerKind,
    pub amount: i64,
    pub currency: String,
    /// The refund, for refund entries.
    pub refund_id: Option<String>,
    pub at: OffsetDateTime,
}

/// The direction of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKind {
    Capture,
    Refund,
}

impl LedgerKind {
    /// The storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Capture => "capture",
            LedgerKind::Refund => "refund",
        }
    }
}

impl LedgerEntry {
    /// The capture of a paid intent.
    pub fn capture(intent: &PaymentIntent, at: OffsetDateTime) -> Self {
        Self {
            payment_intent: intent.id.clone(),
            kind: LedgerKind::Capture,
            amount: intent.amount,
            currency: intent.currency.clone(),
            refund_id: None,
            at,
        }
    }

    /// A refund's entry.
    pub fn refund(refund: &Refund) -> Self {
        Self {
            payment_intent: refund.payment_intent.clone(),
            kind: LedgerKind::Refund,
            amount: refund.amount,
            currency: refund.currency.clone(),
            refund_id: Some(refund.id.clone()),
            at: refund.created_at,
        }
    }
}

/// The wait before retry number `attempt` (1 after the first failure): exponential from
/// `base`, capped at `max`, with "equal jitter" (half fixed, half random by `jitter` in
/// `[0, 1)`), so a crowd of failed deliveries does not come back at the same instant.
pub fn retry_delay(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    fn intent() -> PaymentIntent {
        PaymentIntent {
            id: "pi_test".into(),
            amount: 12_900,
            currency: "eur".into(),
            status: IntentStatus::RequiresPaymentMethod,
            amount_received: 0,
            amount_refunded: 0,
            return_url: "http://shop.test/back".into(),
            description: None,
            metadata: BTreeMap::new(),
            last_payment_error: None,
            payment_method: None,
            settle_at: None,
            canceled_at: None,
            cancellation_reason: None,
            version: 1,
            created_at: NOW,
            updated_at: NOW,
        }
    }

    const DELAY: Duration = Duration::from_secs(5);

    #[test]
    fn cards_are_found_by_number_and_token() {
        assert_eq!(
            TestCard::from_number("4242 4242 4242 4242"),
            Some(TestCard::Visa)
        );
        assert_eq!(
            TestCard::from_number("4000-0000-0000-9995"),
            Some(TestCard::InsufficientFunds)
        );
        assert_eq!(TestCard::from_number("5555555555554444"), None);
        for (card, number, token) in TEST_CARDS {
            assert_eq!(TestCard::from_number(number), Some(card));
            assert_eq!(TestCard::from_token(token), Some(card));
            assert_eq!(card.token(), token);
            assert!(luhn_valid(number), "{number} passes the Luhn check");
        }
    }

    fn luhn_valid(number: &str) -> bool {
        let sum: u32 = number
            .chars()
            .rev()
            .filter_map(|c| c.to_digit(10))
            .enumerate()
            .map(|(i, d)| match (i % 2, d * 2) {
                (1, doubled) if doubled > 9 => doubled - 9,
                (1, doubled) => doubled,
                _ => d,
            })
            .sum();
        sum.is_multiple_of(10)
    }

    #[test]
    fn a_good_card_captures_the_whole_amount() {
        let (paid, attempt) = intent().attempt(TestCard::Visa, NOW, DELAY).expect("pays");
        assert_eq!(attempt, Attempt::Succeeded);
        assert_eq!(paid.status, IntentStatus::Succeeded);
        assert_eq!(paid.amount_received, 12_900);
        assert_eq!(paid.version, 2);
        let again = paid
            .attempt(TestCard::Visa, NOW, DELAY)
            .expect_err("paid once");
        assert_eq!(again.status, IntentStatus::Succeeded);
    }

    #[test]
    fn a_decline_leaves_the_intent_waiting_for_another_card() {
        let (declined, attempt) = intent()
            .attempt(TestCard::InsufficientFunds, NOW, DELAY)
            .expect("attempt");
        let Attempt::Failed(error) = attempt else {
            panic!("declined: {attempt:?}");
        };
        assert_eq!(error.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(declined.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(declined.amount_received, 0);
        assert_eq!(declined.last_payment_error, Some(error));
        let (paid, _) = declined.attempt(TestCard::Visa, NOW, DELAY).expect("retry");
        assert_eq!(
            (paid.status, paid.last_payment_error),
            (IntentStatus::Succeeded, None)
        );
    }

    #[test]
    fn a_delayed_card_settles_after_its_delay() {
        let (processing, attempt) = intent()
            .attempt(TestCard::DelayedSuccess, NOW, DELAY)
            .expect("attempt");
        assert_eq!(attempt, Attempt::Processing);
        assert_eq!(processing.amount_received, 0);
        assert_eq!(processing.settle(NOW + time::Duration::seconds(4)), None);
        let settled = processing
            .settle(NOW + time::Duration::seconds(5))
            .expect("due");
        assert_eq!(
            (settled.status, settled.amount_received),
            (IntentStatus::Succeeded, 12_900)
        );
        assert!(
            processing.cancel(None, NOW).is_err(),
            "no cancel while processing"
        );
    }

    #[test]
    fn refunds_never_exceed_the_capture() {
        assert_eq!(
            intent()
                .refund("re_test".into(), None, None, NOW)
                .expect_err("unpaid"),
            RefundRefused::NotCaptured(IntentStatus::RequiresPaymentMethod)
        );
        let (paid, _) = intent().attempt(TestCard::Visa, NOW, DELAY).expect("pays");
        let (part, refund) = paid
            .refund("re_test".into(), Some(900), None, NOW)
            .expect("partial");
        assert_eq!((refund.amount, part.refundable()), (900, 12_000));
        assert_eq!(
            part.refund("re_test".into(), Some(12_001), None, NOW)
                .expect_err("too much"),
            RefundRefused::TooLarge { left: 12_000 }
        );
        assert_eq!(
            part.refund("re_test".into(), Some(0), None, NOW)
                .expect_err("zero"),
            RefundRefused::NotPositive
        );
        let (all, rest) = part
            .refund("re_test".into(), None, None, NOW)
            .expect("the rest");
        assert_eq!((rest.amount, all.amount_refunded), (12_000, 12_900));
        assert_eq!(
            all.refund("re_test".into(), None, None, NOW)
                .expect_err("nothing left"),
            RefundRefused::AlreadyRefunded
        );
    }

    #[test]
    fn only_an_unpaid_intent_cancels() {
        let canceled = intent()
            .cancel(Some("abandoned".into()), NOW)
            .expect("cancel");
        assert_eq!(canceled.status, IntentStatus::Canceled);
        assert!(canceled.attempt(TestCard::Visa, NOW, DELAY).is_err());
        let (paid, _) = intent().attempt(TestCard::Visa, NOW, DELAY).expect("pays");
        assert_eq!(
            paid.cancel(None, NOW).expect_err("paid").status,
            IntentStatus::Succeeded
        );
    }

    #[test]
    fn retry_delays_grow_exponentially_within_their_jitter_and_cap() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for attempt in 1..=10 {
            let full = Duration::from_secs(1 << (attempt - 1)).min(max);
            assert_eq!(retry_delay(attempt, base, max, 0.0), full / 2);
            let high = retry_delay(attempt, base, max, 0.999);
            assert!(
                high < full && high >= full / 2,
                "attempt {attempt}: {high:?}"
            );
        }
        assert_eq!(retry_delay(200, base, max, 0.0), max / 2);
    }
}
