//! The payment status machine.
//!
//! Provider outcomes may arrive late, twice or out of order; each rule below gives the same
//! end state whatever the order, and an outcome already known decides nothing new.

use crate::api::PaymentStatus::{self, *};

/// What the provider says happened to an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Accepted, settling later.
    Processing,
    /// Captured.
    Succeeded,
    /// Declined.
    Failed,
    /// Cancelled at our request.
    Canceled,
}

/// What an outcome decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing new (a duplicate, or an outcome overtaken by a later one).
    Nothing,
    /// Move to the status; publish nothing.
    Move(PaymentStatus),
    /// Move to `succeeded` and publish `payment.succeeded`; `late`: the booking had already
    /// ended, so the whole amount is refunded.
    Succeed { late: bool },
    /// Move to `failed`, publish `payment.failed` and cancel the intent at the provider (so
    /// no later attempt captures money for a cancelled booking).
    Fail,
    /// A balance was declined: record why and leave it payable (`requires_payment`, the
    /// provider's intent waits for another card); the booking stays as it is.
    Declined,
}

/// Applies a provider outcome to a payment in `status`.
pub(crate) fn on_outcome(status: PaymentStatus, outcome: Outcome) -> Decision {
    match (status, outcome) {
        (Succeeded, _) => Decision::Nothing,
        (Creating | RequiresPayment | Processing, Outcome::Succeeded) => {
            Decision::Succeed { late: false }
        }
        (Failed | Canceled, Outcome::Succeeded) => Decision::Succeed { late: true },
        (Creating | RequiresPayment, Outcome::Processing) => Decision::Move(Processing),
        (Creating | RequiresPayment | Processing, Outcome::Failed) => Decision::Fail,
        (Creating | RequiresPayment | Processing, Outcome::Canceled) => Decision::Move(Canceled),
        (Processing, Outcome::Processing)
        | (Failed | Canceled, Outcome::Processing | Outcome::Failed | Outcome::Canceled) => {
            Decision::Nothing
        }
    }
}

/// Applies a provider outcome to a balance (the payment a change of a paid booking left
/// owing): as [`on_outcome`], except that a decline leaves it payable, since nothing about
/// the booking depends on it.
pub(crate) fn on_balance_outcome(status: PaymentStatus, outcome: Outcome) -> Decision {
    match on_outcome(status, outcome) {
        Decision::Fail => Decision::Declined,
        decision => decision,
    }
}

/// What the end of a booking (expired, or cancelled) asks of its payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Not paid: cancel it (here and at the provider).
    Cancel,
    /// Paid: refund (how much is the caller's rule).
    Refund,
    /// Already over (failed or canceled): nothing to do.
    Nothing,
}

/// What a payment in `status` does when its booking ends.
pub(crate) fn on_booking_ended(status: PaymentStatus) -> Ending {
    match status {
        Creating | RequiresPayment | Processing => Ending::Cancel,
        Succeeded => Ending::Refund,
        Failed | Canceled => Ending::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTCOMES: [Outcome; 4] = [
        Outcome::Processing,
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::Canceled,
    ];

    fn apply(status: PaymentStatus, outcome: Outcome) -> PaymentStatus {
        match on_outcome(status, outcome) {
            Decision::Nothing => status,
            Decision::Move(next) => next,
            Decision::Succeed { .. } => Succeeded,
            Decision::Fail => Failed,
            Decision::Declined => RequiresPayment,
        }
    }

    #[test]
    fn every_outcome_applied_twice_decides_nothing_the_second_time() {
        for status in PaymentStatus::ALL {
            for outcome in OUTCOMES {
                let once = apply(status, outcome);
                assert_eq!(
                    on_outcome(once, outcome),
                    Decision::Nothing,
                    "{status} then {outcome:?} twice"
                );
            }
        }
    }

    #[test]
    fn success_wins_in_any_order() {
        for first in OUTCOMES {
            let a = apply(apply(RequiresPayment, first), Outcome::Succeeded);
            let b = apply(apply(RequiresPayment, Outcome::Succeeded), first);
            assert_eq!(a, Succeeded, "{first:?} then succeeded");
            assert_eq!(b, Succeeded, "succeeded then {first:?}");
        }
    }

    #[test]
    fn money_after_the_end_is_late() {
        assert_eq!(
            on_outcome(Canceled, Outcome::Succeeded),
            Decision::Succeed { late: true }
        );
        assert_eq!(
            on_outcome(Failed, Outcome::Succeeded),
            Decision::Succeed { late: true }
        );
        assert_eq!(
            on_outcome(Processing, Outcome::Succeeded),
            Decision::Succeed { late: false }
        );
        assert_eq!(on_outcome(RequiresPayment, Outcome::Failed), Decision::Fail);
        assert_eq!(on_outcome(Canceled, Outcome::Failed), Decision::Nothing);
    }

    #[test]
    fn a_declined_balance_stays_payable_and_success_still_wins() {
        assert_eq!(
            on_balance_outcome(RequiresPayment, Outcome::Failed),
            Decision::Declined
        );
        assert_eq!(
            on_balance_outcome(Processing, Outcome::Failed),
            Decision::Declined
        );
        // Declined, it is payable again: a later card succeeds as the first would have.
        assert_eq!(
            on_balance_outcome(RequiresPayment, Outcome::Succeeded),
            Decision::Succeed { late: false }
        );
        assert_eq!(
            on_balance_outcome(Canceled, Outcome::Succeeded),
            Decision::Succeed { late: true }
        );
        assert_eq!(
            on_balance_outcome(Canceled, Outcome::Failed),
            Decision::Nothing
        );
    }

    #[test]
    fn an_ended_booking_cancels_unpaid_and_refunds_paid_payments() {
        assert_eq!(on_booking_ended(RequiresPayment), Ending::Cancel);
        assert_eq!(on_booking_ended(Creating), Ending::Cancel);
        assert_eq!(on_booking_ended(Processing), Ending::Cancel);
        assert_eq!(on_booking_ended(Succeeded), Ending::Refund);
        assert_eq!(on_booking_ended(Failed), Ending::Nothing);
        assert_eq!(on_booking_ended(Canceled), Ending::Nothing);
    }
}
