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
            purpose: IntentPurpose::Booking,
            modification: None,
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
        adopted_at: None,
    }
}

/// A booking's payment for the change that made it version `modification`.
fn change_intent(
    booking_id: Uuid,
    modification: i64,
    purpose: IntentPurpose,
    amount: i64,
) -> StoredIntent {
    let mut stored = intent(booking_id);
    stored.intent.modification = Some(modification);
    stored.intent.purpose = purpose;
    stored.intent.amount = eur(amount);
    stored.intent.created_at = T0 + time::Duration::seconds(modification);
    stored.intent.updated_at = stored.intent.created_at;
    stored
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

async fn one_intent_per_booking_and_change(store: PaymentStore) {
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
        "a booking has one payment of its own"
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

async fn a_booking_has_a_payment_per_change(store: PaymentStore) {
    let booking = Uuid::now_v7();
    let first = intent(booking);
    let repriced = change_intent(booking, 2, IntentPurpose::Booking, 30_000);
    let balance = change_intent(booking, 4, IntentPurpose::Balance, 4_200);
    for stored in [&first, &repriced, &balance] {
        assert!(
            write(&store, async |tx| insert_intent(tx, stored).await)
                .await
                .expect("insert")
        );
    }
    let twice = change_intent(booking, 4, IntentPurpose::Balance, 1_000);
    assert!(
        !write(&store, async |tx| insert_intent(tx, &twice).await)
            .await
            .expect("insert"),
        "one payment per change"
    );
    assert_eq!(
        store.intent_for_change(booking, 4).await.expect("read"),
        Some(balance.clone())
    );
    assert_eq!(
        store.intent_for_change(booking, 0).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        store.intent_for_booking(booking).await.expect("read"),
        Some(repriced.clone()),
        "the booking's price is the latest one asked"
    );
    let all = vec![first.clone(), repriced.clone(), balance.clone()];
    let locked = write(&store, async |tx| intents_of_booking_in(tx, booking).await)
        .await
        .expect("read");
    assert_eq!(locked, all);
    let in_tx = write(&store, async |tx| intent_for_booking_in(tx, booking).await)
        .await
        .expect("read");
    assert_eq!(in_tx, Some(repriced));
}

async fn orphans_are_old_unadopted_payable_payments(store: PaymentStore) {
    let (orphan, adopted, paid, young) = (
        intent(Uuid::now_v7()),
        intent(Uuid::now_v7()),
        intent(Uuid::now_v7()),
        intent(Uuid::now_v7()),
    );
    let mut adopted = adopted;
    adopted.adopted_at = Some(T0);
    let mut paid = paid;
    paid.intent.status = PaymentStatus::Succeeded;
    let mut young = young;
    young.intent.created_at = T0 + time::Duration::minutes(10);
    for stored in [&orphan, &adopted, &paid, &young] {
        write(&store, async |tx| insert_intent(tx, stored).await)
            .await
            .expect("insert");
    }
    let cut = T0 + time::Duration::minutes(1);
    let found = store.orphans(cut, 10).await.expect("orphans");
    assert_eq!(found, vec![orphan.clone()]);
    // Adopted later (a booking event named it): no longer an orphan.
    let mut named = orphan.clone();
    named.adopted_at = Some(cut);
    named.intent.version = 2;
    write(&store, async |tx| update_intent(tx, &named, 1).await)
        .await
        .expect("adopt");
    assert_eq!(
        store.intent(orphan.intent.id).await.expect("read"),
        Some(named)
    );
    assert!(store.orphans(cut, 10).await.expect("orphans").is_empty());
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
    one_intent_per_booking_and_change,
    a_booking_has_a_payment_per_change,
    orphans_are_old_unadopted_payable_payments,
    updates_are_guarded_by_the_version,
    refunds_are_one_per_key_and_the_pending_ones_are_due,
    webhook_ids_are_received_once,
    events_exist_exactly_when_their_change_committed,
);

/// A database migrated before bookings had a payment per change keeps its payments and their
/// refunds (SQLite rebuilds the table under the refunds' foreign key), and they count as
/// adopted.
#[tokio::test]
async fn payments_recorded_before_changes_had_payments_survive_the_migration() {
    let database = TestDatabase::sqlite().await;
    let Database::Sqlite(sqlite) = &database.db else {
        panic!("an SQLite database");
    };
    let full = sqlx::migrate!("./migrations/sqlite");
    let mut first = sqlx::migrate::Migrator::DEFAULT;
    first.migrations = std::borrow::Cow::Owned(full.migrations[..1].to_vec());
    first.dangerous_set_table_name(MIGRATIONS_TABLE);
    first.run(&sqlite.writer).await.expect("0001");
    let (payment, booking, refund) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "INSERT INTO payment_intents (id, booking_id, guest_id, reference, status, amount, \
         currency, amount_refunded, return_url, provider_intent_id, checkout_url, provider_cancel, \
         cancel_attempts, cancel_next_at, version, created_at, updated_at) VALUES ($1, $2, $3, \
         'INK-7F3K9Q', 'succeeded', 10000, 'EUR', 0, 'http://x/', 'pi_1', NULL, 'none', 0, 0, 3, \
         5, 5)",
    )
    .bind(payment)
    .bind(booking)
    .bind(Uuid::now_v7())
    .execute(&sqlite.writer)
    .await
    .expect("payment");
    sqlx::query(
        "INSERT INTO payment_refunds (id, payment_id, booking_id, refund_key, amount, currency, \
         reason, status, attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, \
         'cancellation', 4000, 'EUR', 'cancellation', 'pending', 0, 0, 5, 5)",
    )
    .bind(refund)
    .bind(payment)
    .bind(booking)
    .execute(&sqlite.writer)
    .await
    .expect("refund");
    let store = open(&database).await;
    let kept = store
        .intent_for_booking(booking)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(kept.intent.id, PaymentId(payment));
    assert_eq!(kept.intent.purpose, IntentPurpose::Booking);
    assert_eq!(kept.intent.modification, None);
    assert!(kept.adopted_at.is_some(), "recorded before: adopted");
    assert_eq!(
        store
            .refunds(PaymentId(payment))
            .await
            .expect("refunds")
            .len(),
        1
    );
    let orphan_refund = refund_of_nothing(booking);
    let refused = write(&store, async |tx| insert_refund(tx, &orphan_refund).await).await;
    assert!(refused.is_err(), "the foreign key still holds");
}

/// A refund of a payment that does not exist.
fn refund_of_nothing(booking_id: Uuid) -> StoredRefund {
    let mut stored = intent(booking_id);
    stored.intent.id = PaymentId::new();
    refund(&stored, "nothing", 1)
}
