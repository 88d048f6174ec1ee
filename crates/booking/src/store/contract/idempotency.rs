//! Idempotency keys: claim, replay, mismatch, in flight, completion with the effect, takeover
//! after a crash, reaping.

use std::sync::Arc;

use innkeeper_kernel::ErrorCode;
use innkeeper_platform::db::Database;
use time::Duration;
use uuid::Uuid;

use super::append_of;
use crate::domain::booking;
use crate::fixtures::{T0, eur, new_booking, payment};
use crate::store::{BookingStore, Claim, Claimed, Completion, StoredResponse};

fn claim(caller: &str, key: &str, body: &str) -> Claim {
    Claim {
        caller: caller.to_owned(),
        key: key.to_owned(),
        fingerprint: body.as_bytes().to_vec(),
        resource_id: Uuid::now_v7(),
        now: T0,
        lease: Duration::seconds(30),
    }
}

fn completion(c: &Claim, status: u16, body: &str) -> Completion {
    Completion {
        caller: c.caller.clone(),
        key: c.key.clone(),
        response: StoredResponse {
            status,
            body: body.to_owned(),
        },
        now: T0 + Duration::seconds(1),
    }
}

pub(crate) async fn a_key_runs_once_then_replays(store: Arc<dyn BookingStore>, _db: &Database) {
    let first = claim("guest:1", "k-1", "POST /bookings {a}");
    assert_eq!(
        store.claim(&first).await.expect("claim"),
        Claimed::Run {
            resource_id: first.resource_id
        }
    );
    // While it runs.
    let again = claim("guest:1", "k-1", "POST /bookings {a}");
    assert_eq!(store.claim(&again).await.expect("claim"), Claimed::InFlight);
    // Another body (or path) under the same key.
    let other = claim("guest:1", "k-1", "POST /bookings {b}");
    assert_eq!(store.claim(&other).await.expect("claim"), Claimed::Mismatch);
    // Another caller's key of the same name is another key.
    let elsewhere = claim("guest:2", "k-1", "POST /bookings {b}");
    assert!(matches!(
        store.claim(&elsewhere).await.expect("claim"),
        Claimed::Run { .. }
    ));
    // Completed with an error response (execution had begun): replayed as stored.
    let problem = r#"{"code":"sold_out","status":409}"#;
    store
        .complete(&completion(&first, 409, problem))
        .await
        .expect("complete");
    assert_eq!(
        store.claim(&again).await.expect("claim"),
        Claimed::Replay(StoredResponse {
            status: 409,
            body: problem.to_owned()
        })
    );
    assert_eq!(store.claim(&other).await.expect("claim"), Claimed::Mismatch);
    // Completing twice is refused: the first response stands.
    let err = store
        .complete(&completion(&first, 201, "{}"))
        .await
        .expect_err("twice");
    assert_eq!(err.code, ErrorCode::Conflict);
    let never = claim("guest:1", "never-claimed", "x");
    assert!(
        store
            .complete(&completion(&never, 201, "{}"))
            .await
            .is_err()
    );
}

pub(crate) async fn a_key_completes_with_its_effect_or_not_at_all(
    store: Arc<dyn BookingStore>,
    _db: &Database,
) {
    let created = new_booking();
    let key = claim("guest:1", "create-1", "POST /bookings {x}");
    store.claim(&key).await.expect("claim");
    let body = serde_json::to_string(&created.booking).expect("json");
    let mut append = append_of(&created);
    append.idempotency = Some(completion(&key, 201, &body));
    store.append(&append).await.expect("append with completion");
    assert_eq!(
        store.claim(&key).await.expect("claim"),
        Claimed::Replay(StoredResponse { status: 201, body })
    );

    // An effect that fails (a stale version) leaves its key in flight, not completed.
    let paid =
        booking::confirm(&created.booking, Uuid::nil(), eur(1), payment(), T0).expect("confirm");
    store.append(&append_of(&paid)).await.expect("confirm");
    let cancel_key = claim("guest:1", "cancel-1", "POST /bookings/x/cancel");
    store.claim(&cancel_key).await.expect("claim");
    let stale = booking::cancel(&created.booking, None, T0.date(), payment(), T0).expect("cancel");
    let mut append = append_of(&stale);
    append.idempotency = Some(completion(&cancel_key, 200, "{}"));
    assert!(store.append(&append).await.is_err());
    assert_eq!(
        store.claim(&cancel_key).await.expect("claim"),
        Claimed::InFlight
    );

    // A completion that cannot be written (the key is not in flight) undoes the effect.
    let fresh = booking::cancel(&paid.booking, None, T0.date(), payment(), T0).expect("cancel");
    let mut append = append_of(&fresh);
    append.idempotency = Some(completion(&key, 200, "{}"));
    assert!(store.append(&append).await.is_err());
    assert_eq!(
        store
            .events(created.booking.id)
            .await
            .expect("events")
            .len(),
        2
    );

    // So does a creation's (PostgreSQL writes a creation as one statement gated on the key).
    let another = new_booking();
    let mut append = append_of(&another);
    append.idempotency = Some(completion(&key, 201, "{}"));
    let err = store
        .append(&append)
        .await
        .expect_err("the key is completed");
    assert!(
        matches!(&err, crate::store::AppendError::Failed(e) if e.code == ErrorCode::Conflict),
        "{err:?}"
    );
    assert!(store.get(another.booking.id).await.expect("get").is_none());
    assert!(
        store
            .events(another.booking.id)
            .await
            .expect("events")
            .is_empty()
    );
}

pub(crate) async fn abandoned_claims_are_taken_over_with_their_resource(
    store: Arc<dyn BookingStore>,
    _db: &Database,
) {
    let first = claim("guest:1", "crashy", "POST /bookings {a}");
    store.claim(&first).await.expect("claim");
    let mut retry = claim("guest:1", "crashy", "POST /bookings {a}");
    retry.now = T0 + Duration::seconds(29);
    assert_eq!(store.claim(&retry).await.expect("claim"), Claimed::InFlight);
    // The lease has passed: the retry runs, on the booking id of the first attempt (so it
    // finds the same hold), and holds a lease of its own.
    retry.now = T0 + Duration::seconds(31);
    assert_eq!(
        store.claim(&retry).await.expect("claim"),
        Claimed::Run {
            resource_id: first.resource_id
        }
    );
    let mut third = claim("guest:1", "crashy", "POST /bookings {a}");
    third.now = T0 + Duration::seconds(40);
    assert_eq!(store.claim(&third).await.expect("claim"), Claimed::InFlight);
    // An attempt that failed in a retryable way gives its lease up: the next runs at once.
    store
        .abandon("guest:1", "crashy", third.now)
        .await
        .expect("abandon");
    assert_eq!(
        store.claim(&third).await.expect("claim"),
        Claimed::Run {
            resource_id: first.resource_id
        }
    );
    // A completed key cannot be abandoned.
    store
        .complete(&completion(&first, 201, "{}"))
        .await
        .expect("complete");
    store
        .abandon("guest:1", "crashy", third.now + Duration::hours(1))
        .await
        .expect("abandon");
    assert!(matches!(
        store.claim(&third).await.expect("claim"),
        Claimed::Replay(_)
    ));
}

pub(crate) async fn of_concurrent_claims_exactly_one_runs(
    store: Arc<dyn BookingStore>,
    _db: &Database,
) {
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim(&claim("guest:1", "storm", "POST /bookings {a}"))
                .await
        }));
    }
    let mut runs = 0;
    for task in tasks {
        match task.await.expect("task").expect("claim") {
            Claimed::Run { .. } => runs += 1,
            Claimed::InFlight => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(runs, 1);
}

pub(crate) async fn old_keys_are_reaped(store: Arc<dyn BookingStore>, _db: &Database) {
    let old = claim("guest:1", "old", "a");
    store.claim(&old).await.expect("claim");
    let mut young = claim("guest:1", "young", "a");
    young.now = T0 + Duration::hours(25);
    store.claim(&young).await.expect("claim");
    let reaped = store
        .reap_idempotency_keys(T0 + Duration::hours(1), 100)
        .await
        .expect("reap");
    assert_eq!(reaped, 1);
    // The old key is gone (a new request may use it); the young one is still in flight.
    let mut reuse = claim("guest:1", "old", "b");
    reuse.now = T0 + Duration::hours(25);
    assert!(matches!(
        store.claim(&reuse).await.expect("claim"),
        Claimed::Run { .. }
    ));
    assert_eq!(store.claim(&young).await.expect("claim"), Claimed::InFlight);
}
