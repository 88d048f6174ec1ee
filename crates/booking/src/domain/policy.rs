//! Cancellation refunds: free until N days before the check-in day, then a percentage of what
//! was paid. Integer minor units throughout; a fraction of a cent stays with the hotel.

use innkeeper_kernel::{Error, Money, Result};
use time::Date;

use crate::api::{CancellationPolicy, Refund, RefundRule};

/// Checks a policy before it is snapshotted into bookings.
pub(crate) fn validate(policy: &CancellationPolicy) -> Result<()> {
    if policy.late_refund_percent > 100 {
        return Err(Error::invalid_field(
            "late_refund_percent",
            "must be between 0 and 100",
        ));
    }
    Ok(())
}

/// The refund for cancelling on `today` a stay starting `check_in`, of which `paid` was paid.
pub(crate) fn refund(
    policy: &CancellationPolicy,
    paid: Money,
    check_in: Date,
    today: Date,
) -> Refund {
    if paid.amount <= 0 {
        return Refund {
            amount: Money::zero(paid.currency),
            rule: RefundRule::NothingPaid,
        };
    }
    let days_before = (check_in - today).whole_days();
    if days_before >= i64::from(policy.free_until_days_before) {
        return Refund {
            amount: paid,
            rule: RefundRule::FreeCancellation,
        };
    }
    let percent = i128::from(policy.late_refund_percent.min(100));
    // Rounded down; at most `paid`, so it always fits back into an i64.
    let amount = i64::try_from(i128::from(paid.amount) * percent / 100).unwrap_or(paid.amount);
    Refund {
        amount: Money {
            amount,
            currency: paid.currency,
        },
        rule: RefundRule::LateCancellation,
    }
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::Currency;
    use time::macros::date;

    use super::*;

    fn eur(amount: i64) -> Money {
        Money {
            amount,
            currency: Currency::EUR,
        }
    }

    const CHECK_IN: Date = date!(2027 - 03 - 10);

    #[test]
    fn refunds_follow_the_policy_day_by_day() {
        let policy = CancellationPolicy {
            free_until_days_before: 3,
            late_refund_percent: 40,
        };
        // (cancelled on, expected refund of 25_800, rule)
        let table = [
            (date!(2027 - 02 - 01), 25_800, RefundRule::FreeCancellation),
            (date!(2027 - 03 - 07), 25_800, RefundRule::FreeCancellation),
            (date!(2027 - 03 - 08), 10_320, RefundRule::LateCancellation),
            (date!(2027 - 03 - 10), 10_320, RefundRule::LateCancellation),
            (date!(2027 - 03 - 12), 10_320, RefundRule::LateCancellation),
        ];
        for (today, amount, rule) in table {
            let refund = refund(&policy, eur(25_800), CHECK_IN, today);
            assert_eq!(refund.amount, eur(amount), "cancelled on {today}");
            assert_eq!(refund.rule, rule, "cancelled on {today}");
        }
    }

    #[test]
    fn nothing_paid_nothing_refunded() {
        let refund = refund(
            &CancellationPolicy::default(),
            eur(0),
            CHECK_IN,
            date!(2027 - 01 - 01),
        );
        assert_eq!(refund.amount, eur(0));
        assert_eq!(refund.rule, RefundRule::NothingPaid);
    }

    #[test]
    fn fractions_of_a_cent_round_down_and_never_exceed_what_was_paid() {
        let late = date!(2027 - 03 - 09);
        for percent in [0u8, 1, 33, 50, 67, 99, 100] {
            let policy = CancellationPolicy {
                free_until_days_before: 7,
                late_refund_percent: percent,
            };
            for paid in [0i64, 1, 3, 99, 101, 12_345, 999_999_999, i64::MAX] {
                let refund = refund(&policy, eur(paid), CHECK_IN, late);
                assert!(refund.amount.amount >= 0);
                assert!(refund.amount.amount <= paid, "{percent}% of {paid}");
                let exact = i128::from(paid) * i128::from(percent);
                assert!(i128::from(refund.amount.amount) * 100 <= exact);
                assert!(exact - i128::from(refund.amount.amount) * 100 < 100);
            }
        }
        let third = CancellationPolicy {
            free_until_days_before: 7,
            late_refund_percent: 33,
        };
        assert_eq!(refund(&third, eur(100), CHECK_IN, late).amount, eur(33));
    }

    #[test]
    fn zero_days_means_free_until_the_check_in_day() {
        let policy = CancellationPolicy {
            free_until_days_before: 0,
            late_refund_percent: 0,
        };
        let on_the_day = refund(&policy, eur(500), CHECK_IN, CHECK_IN);
        assert_eq!(on_the_day.rule, RefundRule::FreeCancellation);
        let after = refund(&policy, eur(500), CHECK_IN, date!(2027 - 03 - 11));
        assert_eq!(after.amount, eur(0));
    }

    #[test]
    fn percentages_above_100_are_refused() {
        let bad = CancellationPolicy {
            free_until_days_before: 1,
            late_refund_percent: 101,
        };
        let err = validate(&bad).expect_err("refused");
        assert_eq!(err.errors[0].field, "late_refund_percent");
        assert!(validate(&CancellationPolicy::default()).is_ok());
    }
}
