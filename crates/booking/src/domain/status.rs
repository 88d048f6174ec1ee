//! The status machine: `pending_payment -> confirmed -> checked_in -> checked_out`;
//! `pending_payment -> cancelled | expired`; `confirmed -> cancelled | no_show`.
//! Modifications and upgrades keep the status and are allowed only before check-in. A refund
//! (money that went back) is recorded in any status and changes none; a balance paid is
//! recorded on a confirmed or checked-in booking and changes none.

use innkeeper_kernel::{Error, Result};

use crate::api::BookingStatus;

/// Something that can happen to a booking after it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    Confirm,
    Cancel,
    Expire,
    CheckIn,
    CheckOut,
    NoShow,
    Modify,
    Upgrade,
    RecordRefund,
    RecordPayment,
}

impl Action {
    #[cfg(test)]
    pub(crate) const ALL: [Action; 10] = [
        Action::Confirm,
        Action::Cancel,
        Action::Expire,
        Action::CheckIn,
        Action::CheckOut,
        Action::NoShow,
        Action::Modify,
        Action::Upgrade,
        Action::RecordRefund,
        Action::RecordPayment,
    ];

    /// How the action is named in an error message.
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Action::Confirm => "be confirmed",
            Action::Cancel => "be cancelled",
            Action::Expire => "expire",
            Action::CheckIn => "be checked in",
            Action::CheckOut => "be checked out",
            Action::NoShow => "be marked as a no-show",
            Action::Modify => "be modified",
            Action::Upgrade => "be upgraded",
            Action::RecordRefund => "record a refund",
            Action::RecordPayment => "record a balance paid",
        }
    }
}

/// The status after `action`, or `None` if the action is not allowed in `status`.
pub(crate) fn next(status: BookingStatus, action: Action) -> Option<BookingStatus> {
    use Action as A;
    use BookingStatus as S;
    match (status, action) {
        (S::PendingPayment, A::Confirm) => Some(S::Confirmed),
        (S::PendingPayment | S::Confirmed, A::Cancel) => Some(S::Cancelled),
        (S::PendingPayment, A::Expire) => Some(S::Expired),
        (S::Confirmed, A::CheckIn) => Some(S::CheckedIn),
        (S::CheckedIn, A::CheckOut) => Some(S::CheckedOut),
        (S::Confirmed, A::NoShow) => Some(S::NoShow),
        (S::PendingPayment | S::Confirmed, A::Modify | A::Upgrade) => Some(status),
        // Money that went back is a fact whatever the booking's status (a late payment of an
        // expired booking is refunded too).
        (_, A::RecordRefund) => Some(status),
        (S::Confirmed | S::CheckedIn, A::RecordPayment) => Some(status),
        _ => None,
    }
}

/// [`next`], or the `invalid_state` (409) error naming the current status.
pub(crate) fn transition(status: BookingStatus, action: Action) -> Result<BookingStatus> {
    next(status, action).ok_or_else(|| not_allowed(status, action))
}

/// The 409 for an action the status forbids.
pub(crate) fn not_allowed(status: BookingStatus, action: Action) -> Error {
    Error::invalid_state(format!(
        "the booking is {status}; it cannot {}",
        action.verb()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use BookingStatus as S;

    /// Every allowed (status, action) pair and where it leads; everything else is refused.
    const ALLOWED: [(S, Action, S); 20] = [
        (S::PendingPayment, Action::Confirm, S::Confirmed),
        (S::PendingPayment, Action::Cancel, S::Cancelled),
        (S::PendingPayment, Action::Expire, S::Expired),
        (S::PendingPayment, Action::Modify, S::PendingPayment),
        (S::PendingPayment, Action::Upgrade, S::PendingPayment),
        (S::Confirmed, Action::CheckIn, S::CheckedIn),
        (S::Confirmed, Action::Cancel, S::Cancelled),
        (S::Confirmed, Action::NoShow, S::NoShow),
        (S::Confirmed, Action::Modify, S::Confirmed),
        (S::Confirmed, Action::Upgrade, S::Confirmed),
        (S::CheckedIn, Action::CheckOut, S::CheckedOut),
        (S::PendingPayment, Action::RecordRefund, S::PendingPayment),
        (S::Confirmed, Action::RecordRefund, S::Confirmed),
        (S::CheckedIn, Action::RecordRefund, S::CheckedIn),
        (S::CheckedOut, Action::RecordRefund, S::CheckedOut),
        (S::Cancelled, Action::RecordRefund, S::Cancelled),
        (S::Expired, Action::RecordRefund, S::Expired),
        (S::NoShow, Action::RecordRefund, S::NoShow),
        (S::Confirmed, Action::RecordPayment, S::Confirmed),
        (S::CheckedIn, Action::RecordPayment, S::CheckedIn),
    ];

    #[test]
    fn the_whole_table_of_statuses_and_actions() {
        for status in S::ALL {
            for action in Action::ALL {
                let expected = ALLOWED
                    .iter()
                    .find(|(s, a, _)| *s == status && *a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(next(status, action), expected, "{status} + {action:?}");
                match transition(status, action) {
                    Ok(to) => assert_eq!(Some(to), expected),
                    Err(err) => {
                        assert!(expected.is_none());
                        assert_eq!(err.code, innkeeper_kernel::ErrorCode::InvalidState);
                        assert_eq!(err.code.http_status(), 409);
                        assert!(
                            err.message.contains(status.as_str()),
                            "names the current status: {}",
                            err.message
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn terminal_statuses_allow_nothing_but_recording_a_refund() {
        for status in S::ALL.into_iter().filter(|s| s.is_terminal()) {
            for action in Action::ALL {
                let expected = (action == Action::RecordRefund).then_some(status);
                assert_eq!(next(status, action), expected, "{status} + {action:?}");
            }
        }
    }

    #[test]
    fn every_status_is_reachable_from_pending_payment() {
        let mut seen = vec![S::PendingPayment];
        let mut frontier = vec![S::PendingPayment];
        while let Some(status) = frontier.pop() {
            for action in Action::ALL {
                if let Some(to) = next(status, action)
                    && !seen.contains(&to)
                {
                    seen.push(to);
                    frontier.push(to);
                }
            }
        }
        for status in S::ALL {
            assert!(seen.contains(&status), "{status} is unreachable");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_stored_form() {
        for status in S::ALL {
            assert_eq!(S::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).expect("serialises");
            assert_eq!(json, format!("\"{status}\""));
        }
        assert_eq!(S::parse("paid"), None);
    }
}
