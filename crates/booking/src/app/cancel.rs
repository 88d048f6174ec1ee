//! Cancelling (the guest, the hotel's owner or an admin): record the cancellation with the
//! refund the booking's policy allows, then give the hold back.

use innkeeper_kernel::{Error, Principal, Result};

use super::idempotency::Running;
use super::{BookingService, STALE_RETRIES, append_of, completion};
use crate::api::{Actor, Booking, BookingId};
use crate::domain::{booking, request};
use crate::store::AppendError;

impl BookingService {
    /// Cancels, deciding again on fresh state if the booking changed meanwhile (unless the
    /// caller pinned a version).
    pub(super) async fn cancel_now(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        reason: Option<String>,
        running: Option<Running>,
    ) -> Result<Booking> {
        let reason = request::reason(reason.as_deref())?;
        for _ in 0..STALE_RETRIES {
            let current = self.visible(caller, id).await?;
            if let Some(expected) = if_match
                && expected != current.version
            {
                return Err(Error::version_mismatch(current.version));
            }
            let now = self.clock.now();
            let decided = booking::cancel(
                &current,
                reason.clone(),
                self.clock.today(),
                Actor::user(caller),
                now,
            )?;
            let done = completion(running.as_ref(), &decided.booking, now)?;
            match self.append(&append_of(&decided, done)).await {
                Ok(()) => {
                    self.release(decided.booking.hold_id).await;
                    return Ok(decided.booking);
                }
                Err(AppendError::VersionMismatch { .. }) if if_match.is_none() => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::conflict(
            "the booking keeps changing; try again in a moment",
        ))
    }
}
