//! Running a request once per idempotency key (IETF draft `Idempotency-Key` semantics).
//!
//! 1. Claim the key (caller-scoped) with the request's fingerprint, in a transaction of its
//!    own: a new key runs; a completed one replays its stored answer; one still in flight is
//!    409; one used for another request is 422.
//! 2. The use case runs on the claim's resource id (a retry after a crash gets the first
//!    attempt's id, so it finds the same hold) and, on success, stores its answer with its
//!    effect: the [`Running`] key goes into the append's transaction.
//! 3. A failure after the claim is the answer too (stored), unless it is worth retrying
//!    (`unavailable`, `timeout`, `internal`): then the claim's lease ends at once and the
//!    next attempt runs again.

use std::future::Future;

use innkeeper_kernel::{Error, ErrorCode, Principal, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::BookingService;
use crate::api::{IdempotencyKey, Idempotent};
use crate::store::{Claim, Claimed, Completion, StoredResponse};

/// A request that may carry a key.
pub(crate) struct Keyed<'a> {
    pub caller: &'a Principal,
    pub key: Option<IdempotencyKey>,
    /// The operation and its path, such as `POST /bookings/{id}/cancel`.
    pub operation: String,
    /// The request's content, as JSON (its fingerprint is what a repeat must match).
    pub body: Vec<u8>,
    /// The id the request creates or acts on if it runs now.
    pub resource_id: Uuid,
    /// The HTTP status of a success.
    pub success_status: u16,
}

/// A claimed key whose request is running: its answer is stored with the effect.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    caller: String,
    key: String,
    success_status: u16,
}

impl Running {
    /// The completion storing `value` as the successful answer.
    pub(crate) fn completion<T: Serialize>(
        &self,
        value: &T,
        now: OffsetDateTime,
    ) -> Result<Completion> {
        let body = serde_json::to_string(value)
            .map_err(|e| Error::internal(format!("idempotent answer: {e}")))?;
        Ok(self.complete_with(self.success_status, body, now))
    }

    fn complete_with(&self, status: u16, body: String, now: OffsetDateTime) -> Completion {
        Completion {
            caller: self.caller.clone(),
            key: self.key.clone(),
            response: StoredResponse { status, body },
            now,
        }
    }
}

/// SHA-256 of the operation and the body.
fn fingerprint(operation: &str, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(operation.as_bytes());
    hash.update([0u8]);
    hash.update(body);
    hash.finalize().to_vec()
}

/// Whether a failure may pass, so that the request should run again rather than replay it.
pub(crate) fn retryable(err: &Error) -> bool {
    matches!(
        err.code,
        ErrorCode::Unavailable | ErrorCode::Timeout | ErrorCode::Internal
    )
}

/// The stored answer, as the request first gave it.
fn replay<T: DeserializeOwned>(stored: &StoredResponse) -> Result<T> {
    let decoded = if stored.status < 400 {
        serde_json::from_str::<T>(&stored.body).map(Ok)
    } else {
        serde_json::from_str::<Error>(&stored.body).map(Err)
    };
    decoded.unwrap_or_else(|e| Err(Error::internal(format!("stored idempotent answer: {e}"))))
}

impl BookingService {
    /// Runs `run` once per key (or always, without one). `run` gets the resource id to act on
    /// and, with a key, the [`Running`] completion it must put into the append of its
    /// success.
    pub(crate) async fn idempotently<T, F, Fut>(&self, request: Keyed<'_>, run: F) -> Idempotent<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(Uuid, Option<Running>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let Some(key) = request.key else {
            return Idempotent::fresh(run(request.resource_id, None).await);
        };
        let claim = Claim {
            caller: request.caller.to_header(),
            key: key.as_str().to_owned(),
            fingerprint: fingerprint(&request.operation, &request.body),
            resource_id: request.resource_id,
            now: self.clock.now(),
            lease: Duration::seconds(i64::from(self.settings.idempotency_lease_seconds)),
        };
        let resource_id = match self.store.claim(&claim).await {
            Ok(Claimed::Run { resource_id }) => resource_id,
            Ok(Claimed::Replay(stored)) => {
                metrics::counter!("innkeeper_booking_idempotent_replays_total").increment(1);
                return Idempotent {
                    result: replay(&stored),
                    replayed: true,
                };
            }
            Ok(Claimed::InFlight) => {
                return Idempotent::fresh(Err(Error::conflict(
                    "a request with this Idempotency-Key is still being processed",
                )));
            }
            Ok(Claimed::Mismatch) => {
                return Idempotent::fresh(Err(Error::invalid_field(
                    "Idempotency-Key",
                    "was used for another request",
                )));
            }
            Err(err) => return Idempotent::fresh(Err(err)),
        };
        let running = Running {
            caller: claim.caller.clone(),
            key: claim.key.clone(),
            success_status: request.success_status,
        };
        let result = run(resource_id, Some(running.clone())).await;
        if let Err(err) = &result {
            let now = self.clock.now();
            let stored = if retryable(err) {
                self.store.abandon(&claim.caller, &claim.key, now).await
            } else {
                match serde_json::to_string(err) {
                    Ok(body) => {
                        let status = err.code.http_status();
                        self.store
                            .complete(&running.complete_with(status, body, now))
                            .await
                    }
                    Err(e) => Err(Error::internal(format!("idempotent answer: {e}"))),
                }
            };
            if let Err(e) = stored {
                // The key stays in flight until its lease ends; a later attempt runs again.
                tracing::warn!(error = %e, "storing the answer of an idempotent request failed");
            }
        }
        Idempotent::fresh(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_operations_and_bodies_apart() {
        let a = fingerprint("POST /bookings", b"{\"guests\":2}");
        assert_eq!(a, fingerprint("POST /bookings", b"{\"guests\":2}"));
        assert_ne!(a, fingerprint("POST /bookings", b"{\"guests\":3}"));
        assert_ne!(a, fingerprint("POST /bookingsx", b"{\"guests\":2}"));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn stored_answers_replay_as_given() {
        let ok = StoredResponse {
            status: 201,
            body: "17".to_owned(),
        };
        assert_eq!(replay::<u32>(&ok), Ok(17));
        let err = Error::sold_out("Double has only 0 room(s) free for these dates");
        let stored = StoredResponse {
            status: 409,
            body: serde_json::to_string(&err).expect("json"),
        };
        assert_eq!(replay::<u32>(&stored), Err(err));
        let broken = StoredResponse {
            status: 200,
            body: "{".to_owned(),
        };
        assert_eq!(
            replay::<u32>(&broken).expect_err("broken").code,
            ErrorCode::Internal
        );
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
        for bad in ["", "with space", "ключ", &"k".repeat(256)] {
            let err = IdempotencyKey::parse(bad).expect_err("invalid");
            assert_eq!(err.errors[0].field, "Idempotency-Key");
        }
    }
}
