//! The store's contract, run against SQLite and PostgreSQL alike.

use innkeeper_kernel::{Currency, Money, UserId};
use innkeeper_platform::testing::TestDatabase;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::contracts::PaymentSucceeded;

const T0: OffsetDateTime = datetime!(2026-11-30 12:00:00.123456 UTC);

async fn open(database: &TestDatabase) -> PaymentStore {
    let store = PaymentStore::new(database.db.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrating twice is a no-op");
    store
}

fn eur(amount: i64) -> Money {
    Money {
        amount,
        currency: Currency::EUR,
    }
}

fn intent(booking_id: Uuid) -> StoredIntent {
    StoredIntent {
        intent: Intent {
            id: PaymentId::new(),
            booking_id,
            guest_id: UserId(Uuid::now_v7()),
            reference: "INK-7F3K9Q".into(),
            status: PaymentStatus::Creating,
            amount: eur(25_800),
            amount_refunded: 0,
            checkout_url: None,
            return_url: "http://127.0.0.1:8080/bookings/x".into(),
            provider_intent_id: None,
            failure_code: None,
            failure_message: None,
            refunds: Vec::new(),
            version: 1,
            created_at: T0,
            updated_at: T0,
        },
        cancel: CancelState::None,
        cancel_attempts: 0,
        cancel_next_at: T0,
    }
}

fn refund(of: &StoredIntent, key: &str, amount: i64) -> StoredRefund {
    StoredRefund {
        refund: RefundRecord {
            id: Uuid::now_v7(),
            payment_id: of.intent.id,
            booking_id: of.intent.booking_id,
            key: key.into(),
            amount: eur(amount),
            reason: "cancellation".into(),
            status: RefundStatus::Pending,
            provider_refund_id: None,
            last_error: None,
            created_at: T0,
        },
        attempts: 0,
        next_attempt_at: T0,
    }
}

async fn outbox_rows(store: &PaymentStore, event_type: &str) -> i64 {
    let count = on_reader!(store.db(), conn => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM event_outbox WHERE type = $1")
        .bind(event_type)
        .fetch_one(conn)
        .await);
    count.expect("count")
}

async fn write<T>(store: &PaymentStore, f: impl AsyncFnOnce(&mut Tx) -> Result<T>) -> Result<T> {
    let mut tx = store.begin().await.expect("begin");
    let result = f(&mut tx).await;
    finish(tx, result).await
}

async fn one_intent_per_booking(store: PaymentStore) {
    let booking = Uuid::now_v7();
    let first = intent(booking);
    assert!(
        write(&store, async |tx| insert_intent(tx, &first).await)
            .await
            .expect("insert")
    );
    let second = intent(booking);
    assert!(
        !write(&store, async |tx| insert_intent(tx, &second).await)
            .await
            .expect("insert"),
        "a booking has one payment"
    );
    let read = store
        .intent_for_booking(booking)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read, first, "read back as written");
    assert_eq!(
        store.intent(first.intent.id).await.expect("read"),
        Some(first)
    );
    assert_eq!(
        store
            .intent_for_booking(Uuid::now_v7())
            .await
            .expect("read"),
        None
    );
}

async fn updates_are_guarded_by_the_version(store: PaymentStore) {
    let stored = intent(Uuid::now_v7());
    write(&store, async |tx| insert_intent(tx, &stored).await)
        .await
        .expect("insert");
    let mut next = stored.clone();
    next.intent.status = PaymentStatus::RequiresPayment;
    next.intent.provider_intent_id = Some("pi_1".into());
    next.intent.checkout_url = Some("http://p/checkout/pi_1".into());
    next.cancel = CancelState::Pending;
    next.intent.version = 2;
    write(&store, async |tx| update_intent(tx, &next, 1).await)
        .await
        .expect("update");
    let stale = write(&store, async |tx| update_intent(tx, &next, 1).await)
        .await
        .expect_err("stale");
    assert_eq!(stale.code, innkeeper_kernel::ErrorCode::Conflict);
    let found = write(&store, async |tx| intent_by_provider_in(tx, "pi_1").await)
        .await
        .expect("read");
    assert_eq!(found, Some(next.clone()));
    let due = store.due_cancels(T0, 10).await.expect("due");
    assert_eq!(due, vec![next.clone()]);
    assert!(
        store
            .due_cancels(T0 - time::Duration::seconds(1), 10)
            .await
            .expect("due")
            .is_empty()
    );
}

async fn refunds_are_one_per_key_and_the_pending_ones_are_due(store: PaymentStore) {
    let stored = intent(Uuid::now_v7());
    write(&store, async |tx| insert_intent(tx, &stored).await)
        .await
        .expect("insert");
    let first = refund(&stored, "cancellation", 1_000);
    assert!(
        write(&store, async |tx| insert_refund(tx, &first).await)
            .await
            .expect("insert")
    );
    let again = refund(&stored, "cancellation", 2_000);
    assert!(
        !write(&store, async |tx| insert_refund(tx, &again).await)
            .await
            .expect("insert")
    );
    let other = refund(&stored, "late_payment", 500);
    assert!(
        write(&store, async |tx| insert_refund(tx, &other).await)
            .await
            .expect("insert")
    );
    let by_key = write(&store, async |tx| {
        refund_by_key_in(tx, stored.intent.id, "cancellation").await
    })
    .await
    .expect("read");
    assert_eq!(by_key, Some(first.clone()));
    assert_eq!(store.due_refunds(T0, 10).await.expect("due").len(), 2);
    let mut done = first.clone();
    done.refund.status = RefundStatus::Succeeded;
    done.refund.provider_refund_id = Some("re_1".into());
    done.attempts = 1;
    write(&store, async |tx| update_refund(tx, &done, T0).await)
        .await
        .expect("update");
    let due = store.due_refunds(T0, 10).await.expect("due");
    assert_eq!(due, vec![other.clone()]);
    let all = store.refunds(stored.intent.id).await.expect("list");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], done);
}

async fn webhook_ids_are_received_once(store: PaymentStore) {
    let new = write(&store, async |tx| {
        insert_receipt(tx, "evt_1", "x", T0).await
    })
    .await
    .expect("insert");
    assert!(new);
    let again = write(&store, async |tx| {
        insert_receipt(tx, "evt_1", "x", T0).await
    })
    .await
    .expect("insert");
    assert!(!again, "seen before");
    assert_eq!(
        store.prune_receipts(T0).await.expect("prune"),
        0,
        "not older than the cut"
    );
    assert_eq!(
        store
            .prune_receipts(T0 + time::Duration::seconds(1))
            .await
            .expect("prune"),
        1
    );
    let after = write(&store, async |tx| {
        insert_receipt(tx, "evt_1", "x", T0).await
    })
    .await
    .expect("insert");
    assert!(after, "forgotten after the retention");
}

async fn events_exist_exactly_when_their_change_committed(store: PaymentStore) {
    let stored = intent(Uuid::now_v7());
    let payload = PaymentSucceeded {
        payment_id: stored.intent.id.0,
        booking_id: stored.intent.booking_id,
        amount: stored.intent.amount,
        provider_intent_id: None,
        late: false,
    };
    let event = OUTBOX
        .event(stored.intent.booking_id, &payload)
        .expect("event");
    let failed = write(&store, async |tx| {
        insert_intent(tx, &stored).await?;
        publish(tx, &event).await?;
        Err::<(), _>(Error::conflict("changed my mind"))
    })
    .await;
    assert!(failed.is_err());
    assert_eq!(outbox_rows(&store, PaymentSucceeded::TYPE).await, 0);
    assert_eq!(store.intent(stored.intent.id).await.expect("read"), None);
    write(&store, async |tx| {
        insert_intent(tx, &stored).await?;
        publish(tx, &event).await
    })
    .await
    .expect("commit");
    assert_eq!(outbox_rows(&store, PaymentSucceeded::TYPE).await, 1);
}

use innkeeper_events::Payload as _;

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let database = super::TestDatabase::sqlite().await;
                    super::$name(super::open(&database).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(database) = super::TestDatabase::postgres().await else { return };
                    super::$name(super::open(&database).await).await;
                }
            )*
        }
    };
}

contract!(
    one_intent_per_booking,
    updates_are_guarded_by_the_version,
    refunds_are_one_per_key_and_the_pending_ones_are_due,
    webhook_ids_are_received_once,
    events_exist_exactly_when_their_change_committed,
);
