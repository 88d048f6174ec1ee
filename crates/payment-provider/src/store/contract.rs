//! The store contract suite: every [`ProviderStore`] backend passes the same tests.
//!
//! Each test is an `async fn(store)`; [`contract_suite!`] makes one `#[tokio::test]` of each
//! per backend (PostgreSQL tests skip loudly off CI when it is unreachable).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use innkeeper_kernel::ErrorCode;
use time::OffsetDateTime;
use time::macros::datetime;

use crate::domain::{IntentStatus, LedgerEntry, LedgerKind, PaymentIntent, TestCard};
use crate::store::{
    AttemptRecord, AttemptResult, Change, Committed, DeliveryStatus, IntentWrite, NewDelivery,
    NewKey, ProviderStore,
};

const T0: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

macro_rules! contract_suite {
    ($factory:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let Some((store, _database)) = $factory.await else {
                    return;
                };
                super::$test(store).await;
            }
        )*
    };
}

macro_rules! every_test {
    ($factory:expr) => {
        contract_suite!($factory;
            intents_round_trip_and_updates_check_the_version,
            a_used_key_replays_and_writes_nothing,
            concurrent_uses_of_one_new_key_commit_once,
            an_intent_is_captured_once_and_a_failed_change_writes_nothing,
            concurrent_payments_of_one_intent_capture_once,
            refunds_and_the_ledger_are_listed_in_order,
            deliveries_are_claimed_once_retried_and_logged,
            an_unfinished_claim_comes_back_after_its_lease,
            processing_intents_are_due_when_their_time_comes,
            old_keys_are_pruned,
        );
    };
}

mod sqlite {
    every_test!(async { Some(crate::store::sqlite::test_store().await) });
}

mod postgres {
    every_test!(crate::store::postgres::test_store());
}

fn intent() -> PaymentIntent {
    PaymentIntent {
        id: crate::app::new_id("pi"),
        amount: 12_900,
        currency: "eur".into(),
        status: IntentStatus::RequiresPaymentMethod,
        amount_received: 0,
        amount_refunded: 0,
        return_url: "http://shop.test/back".into(),
        description: Some("Casa do Rio, 2 nights".into()),
        metadata: BTreeMap::from([("booking_id".to_owned(), "b-1".to_owned())]),
        last_payment_error: None,
        payment_method: None,
        settle_at: None,
        canceled_at: None,
        cancellation_reason: None,
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

fn insert(intent: &PaymentIntent) -> Change {
    Change {
        intent: Some(IntentWrite::Insert(intent.clone())),
        ..Change::default()
    }
}

fn key(key: &str, fingerprint: &str, body: &str) -> NewKey {
    NewKey {
        key: key.into(),
        fingerprint: fingerprint.into(),
        status: 200,
        body: body.into(),
        created_at: T0,
    }
}

fn delivery(at: OffsetDateTime) -> NewDelivery {
    let id = crate::app::new_id("evt");
    NewDelivery {
        payload: format!("{{\"id\":\"{id}\"}}"),
        event_id: id,
        event_type: "payment_intent.succeeded".into(),
        created_at: at,
    }
}

async fn stored(store: &Arc<dyn ProviderStore>, intent: &PaymentIntent) -> Change {
    store.commit(&insert(intent)).await.expect("insert");
    Change::default()
}

/// Pays `current` with a good card: the change that captures it.
fn paid(current: &PaymentIntent, at: OffsetDateTime) -> (PaymentIntent, Change) {
    let (next, _) = current
        .attempt(TestCard::Visa, at, Duration::ZERO)
        .expect("payable");
    let change = Change {
        intent: Some(IntentWrite::Update {
            intent: next.clone(),
            expected_version: current.version,
        }),
        ledger: vec![LedgerEntry::capture(&next, at)],
        deliveries: vec![delivery(at)],
        ..Change::default()
    };
    (next, change)
}

async fn intents_round_trip_and_updates_check_the_version(store: Arc<dyn ProviderStore>) {
    let created = intent();
    stored(&store, &created).await;
    assert_eq!(
        store.get_intent(&created.id).await.expect("get"),
        Some(created.clone())
    );
    assert_eq!(store.get_intent("pi_missing").await.expect("get"), None);

    let (declined, _) = created
        .attempt(TestCard::InsufficientFunds, T0, Duration::ZERO)
        .expect("attempt");
    let update = |expected_version| Change {
        intent: Some(IntentWrite::Update {
            intent: declined.clone(),
            expected_version,
        }),
        ..Change::default()
    };
    assert_eq!(
        store.commit(&update(1)).await.expect("update"),
        Committed::Applied
    );
    assert_eq!(
        store.get_intent(&created.id).await.expect("get"),
        Some(declined.clone())
    );
    let stale = store.commit(&update(1)).await.expect_err("stale version");
    assert_eq!(stale.code, ErrorCode::VersionMismatch);
}

async fn a_used_key_replays_and_writes_nothing(store: Arc<dyn ProviderStore>) {
    let first = intent();
    let change = Change {
        key: Some(key("k-1", "fp-1", "{\"first\":true}")),
        ..insert(&first)
    };
    assert_eq!(
        store.commit(&change).await.expect("first"),
        Committed::Applied
    );

    let second = intent();
    let again = Change {
        key: Some(key("k-1", "fp-2", "{\"second\":true}")),
        deliveries: vec![delivery(T0)],
        ..insert(&second)
    };
    let Committed::Replay(replayed) = store.commit(&again).await.expect("replay") else {
        panic!("the key was used");
    };
    assert_eq!(
        (
            replayed.fingerprint.as_str(),
            replayed.status,
            replayed.body.as_str()
        ),
        ("fp-1", 200, "{\"first\":true}")
    );
    assert_eq!(store.get_intent(&second.id).await.expect("get"), None);
    assert!(store.deliveries(10).await.expect("deliveries").is_empty());
    assert_eq!(store.find_key("k-1").await.expect("find"), Some(replayed));
    assert_eq!(store.find_key("k-2").await.expect("find"), None);
}

async fn concurrent_uses_of_one_new_key_commit_once(store: Arc<dyn ProviderStore>) {
    let intents: Vec<PaymentIntent> = (0..12).map(|_| intent()).collect();
    let tasks: Vec<_> = intents
        .iter()
        .map(|i| {
            let (store, change) = (
                store.clone(),
                Change {
                    key: Some(key("race", "fp", "{}")),
                    ..insert(i)
                },
            );
            tokio::spawn(async move { store.commit(&change).await })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(Committed::Applied) => applied += 1,
            Ok(Committed::Replay(_)) => {}
            Err(err) => assert_eq!(err.code, ErrorCode::Conflict, "{err:?}"),
        }
    }
    assert_eq!(applied, 1);
    let mut existing = 0;
    for i in &intents {
        existing += usize::from(store.get_intent(&i.id).await.expect("get").is_some());
    }
    assert_eq!(existing, 1, "exactly one request's intent exists");
}

async fn an_intent_is_captured_once_and_a_failed_change_writes_nothing(
    store: Arc<dyn ProviderStore>,
) {
    let created = intent();
    stored(&store, &created).await;
    let (paid_intent, change) = paid(&created, T0);
    store.commit(&change).await.expect("capture");
    // A second capture with a fresh version (a bug upstream) is refused by the ledger itself,
    // and nothing of its change is written.
    let mut bumped = paid_intent.clone();
    bumped.version += 1;
    let twice = Change {
        intent: Some(IntentWrite::Update {
            intent: bumped,
            expected_version: paid_intent.version,
        }),
        ledger: vec![LedgerEntry::capture(&paid_intent, T0)],
        deliveries: vec![delivery(T0)],
        ..Change::default()
    };
    let err = store.commit(&twice).await.expect_err("second capture");
    assert_eq!(err.code, ErrorCode::Conflict);
    let ledger = store.ledger(Some(&created.id)).await.expect("ledger");
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        (ledger[0].kind, ledger[0].amount),
        (LedgerKind::Capture, 12_900)
    );
    assert_eq!(
        store
            .get_intent(&created.id)
            .await
            .expect("get")
            .map(|i| i.version),
        Some(paid_intent.version),
        "the failed change's intent update was rolled back"
    );
    assert_eq!(store.deliveries(10).await.expect("deliveries").len(), 1);
}

async fn concurrent_payments_of_one_intent_capture_once(store: Arc<dyn ProviderStore>) {
    let created = intent();
    stored(&store, &created).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, change) = (store.clone(), paid(&created, T0).1);
            tokio::spawn(async move { store.commit(&change).await })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => applied += 1,
            Err(err) => assert_eq!(err.code, ErrorCode::VersionMismatch, "{err:?}"),
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(store.ledger(None).await.expect("ledger").len(), 1);
    assert_eq!(store.deliveries(50).await.expect("deliveries").len(), 1);
}

async fn refunds_and_the_ledger_are_listed_in_order(store: Arc<dyn ProviderStore>) {
    let created = intent();
    stored(&store, &created).await;
    let (mut current, change) = paid(&created, T0);
    store.commit(&change).await.expect("capture");
    let mut refunds = Vec::new();
    for (n, amount) in [(1, 900), (2, 12_000)] {
        let at = T0 + time::Duration::minutes(n);
        let (next, refund) = current
            .refund(crate::app::new_id("re"), Some(amount), None, at)
            .expect("refundable");
        store
            .commit(&Change {
                intent: Some(IntentWrite::Update {
                    intent: next.clone(),
                    expected_version: current.version,
                }),
                ledger: vec![LedgerEntry::refund(&refund)],
                refund: Some(refund.clone()),
                ..Change::default()
            })
            .await
            .expect("refund");
        refunds.push(refund);
        current = next;
    }
    assert_eq!(store.refunds(&created.id).await.expect("refunds"), refunds);
    let stored = store
        .get_intent(&created.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (stored.amount_received, stored.amount_refunded),
        (12_900, 12_900)
    );
    let ledger = store.ledger(Some(&created.id)).await.expect("ledger");
    let kinds: Vec<_> = ledger.iter().map(|e| (e.kind, e.amount)).collect();
    assert_eq!(
        kinds,
        [
            (LedgerKind::Capture, 12_900),
            (LedgerKind::Refund, 900),
            (LedgerKind::Refund, 12_000)
        ]
    );
    assert_eq!(ledger[2].refund_id.as_deref(), Some(refunds[1].id.as_str()));
    assert!(
        store
            .ledger(Some("pi_other"))
            .await
            .expect("ledger")
            .is_empty()
    );
}

async fn deliveries_are_claimed_once_retried_and_logged(store: Arc<dyn ProviderStore>) {
    let queued: Vec<NewDelivery> = (0..3)
        .map(|n| delivery(T0 + time::Duration::seconds(n)))
        .collect();
    store
        .commit(&Change {
            deliveries: queued.clone(),
            ..Change::default()
        })
        .await
        .expect("queue");
    let now = T0 + time::Duration::seconds(5);
    let lease = now + time::Duration::seconds(30);
    let first = store.claim_deliveries(now, lease, 2).await.expect("claim");
    assert_eq!(
        first
            .iter()
            .map(|d| d.event_id.as_str())
            .collect::<Vec<_>>(),
        [queued[0].event_id.as_str(), queued[1].event_id.as_str()]
    );
    assert_eq!(
        (first[0].attempts, first[0].payload.as_str()),
        (0, queued[0].payload.as_str())
    );
    let second = store.claim_deliveries(now, lease, 2).await.expect("claim");
    assert_eq!(second.len(), 1, "leased ones are not claimed again");
    assert!(
        store
            .claim_deliveries(now, lease, 2)
            .await
            .expect("claim")
            .is_empty()
    );

    let failed = AttemptRecord {
        event_id: queued[0].event_id.clone(),
        attempt: 1,
        started_at: now,
        duration_ms: 12,
        status_code: Some(500),
        error: Some("the receiver answered 500".into()),
    };
    let retry_at = now + time::Duration::seconds(10);
    store
        .finish_attempt(&failed, AttemptResult::Retry(retry_at))
        .await
        .expect("retry");
    assert!(
        store
            .claim_deliveries(retry_at - time::Duration::seconds(1), lease, 5)
            .await
            .expect("claim")
            .is_empty(),
        "not due before its retry"
    );
    let again = store
        .claim_deliveries(retry_at, retry_at + time::Duration::seconds(30), 5)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].event_id.as_str(), again[0].attempts),
        (queued[0].event_id.as_str(), 1)
    );
    let delivered = AttemptRecord {
        attempt: 2,
        started_at: retry_at,
        status_code: Some(204),
        error: None,
        ..failed.clone()
    };
    store
        .finish_attempt(&delivered, AttemptResult::Delivered)
        .await
        .expect("delivered");
    let gave_up = AttemptRecord {
        event_id: queued[1].event_id.clone(),
        status_code: None,
        error: Some("could not reach the receiver".into()),
        ..failed.clone()
    };
    store
        .finish_attempt(&gave_up, AttemptResult::GiveUp)
        .await
        .expect("give up");

    assert_eq!(
        store.attempts(&queued[0].event_id).await.expect("attempts"),
        [failed, delivered]
    );
    let listed = store.deliveries(10).await.expect("deliveries");
    let by_id = |id: &str| {
        listed
            .iter()
            .find(|d| d.event_id == id)
            .expect("listed")
            .clone()
    };
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].event_id, queued[2].event_id, "newest first");
    let done = by_id(&queued[0].event_id);
    assert_eq!(
        (done.status, done.attempts, done.last_error),
        (DeliveryStatus::Delivered, 2, None)
    );
    assert_eq!(by_id(&queued[1].event_id).status, DeliveryStatus::Failed);
    assert_eq!(by_id(&queued[2].event_id).status, DeliveryStatus::Pending);
    let later = retry_at + time::Duration::hours(1);
    let left = store
        .claim_deliveries(later, later, 5)
        .await
        .expect("claim");
    assert_eq!(
        left.iter().map(|d| d.event_id.as_str()).collect::<Vec<_>>(),
        [queued[2].event_id.as_str()],
        "delivered and failed deliveries are never claimed again"
    );
}

async fn an_unfinished_claim_comes_back_after_its_lease(store: Arc<dyn ProviderStore>) {
    let queued = delivery(T0);
    store
        .commit(&Change {
            deliveries: vec![queued.clone()],
            ..Change::default()
        })
        .await
        .expect("queue");
    let lease = T0 + time::Duration::seconds(30);
    assert_eq!(
        store
            .claim_deliveries(T0, lease, 1)
            .await
            .expect("claim")
            .len(),
        1
    );
    assert!(
        store
            .claim_deliveries(lease - time::Duration::seconds(1), lease, 1)
            .await
            .expect("claim")
            .is_empty()
    );
    let back = store
        .claim_deliveries(lease, lease + time::Duration::seconds(30), 1)
        .await
        .expect("claim");
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].event_id, queued.event_id);
}

async fn processing_intents_are_due_when_their_time_comes(store: Arc<dyn ProviderStore>) {
    let created = intent();
    stored(&store, &created).await;
    let (processing, _) = created
        .attempt(TestCard::DelayedSuccess, T0, Duration::from_secs(3))
        .expect("attempt");
    store
        .commit(&Change {
            intent: Some(IntentWrite::Update {
                intent: processing.clone(),
                expected_version: created.version,
            }),
            ..Change::default()
        })
        .await
        .expect("processing");
    let other = intent();
    stored(&store, &other).await;
    assert!(
        store
            .due_settlements(T0 + time::Duration::seconds(2), 10)
            .await
            .expect("due")
            .is_empty()
    );
    let due = store
        .due_settlements(T0 + time::Duration::seconds(3), 10)
        .await
        .expect("due");
    assert_eq!(due, [processing]);
}

async fn old_keys_are_pruned(store: Arc<dyn ProviderStore>) {
    for (name, at) in [("old", T0), ("new", T0 + time::Duration::hours(25))] {
        store
            .commit(&Change {
                key: Some(NewKey {
                    created_at: at,
                    ..key(name, "fp", "{}")
                }),
                ..Change::default()
            })
            .await
            .expect("key");
    }
    let pruned = store
        .prune_keys(T0 + time::Duration::hours(24))
        .await
        .expect("prune");
    assert_eq!(pruned, 1);
    assert!(store.find_key("old").await.expect("find").is_none());
    assert!(store.find_key("new").await.expect("find").is_some());
}
