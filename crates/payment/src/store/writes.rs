//! The statements run inside a transaction ([`Tx`]): inserts and updates, and the locking
//! reads that precede them.

use innkeeper_events::Tx;
use innkeeper_kernel::{Error, Result};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{IntentRow, RefundRow, StoredIntent, StoredRefund, db_error, micros};
use crate::api::{IntentPurpose, PaymentId};

/// Records a new intent; `false` when the booking has one for that modification already
/// (nothing written).
pub(crate) async fn insert_intent(tx: &mut Tx, stored: &StoredIntent) -> Result<bool> {
    let i = &stored.intent;
    let done = on_tx!(tx, conn => sqlx::query(concat!(
            "INSERT INTO payment_intents (", intent_columns!(), ") VALUES ($1, $2, $3, $4, $5, \
             $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
             ON CONFLICT (booking_id, modification) DO NOTHING"))
        .bind(i.id.0)
        .bind(i.booking_id)
        .bind(i.guest_id.as_uuid())
        .bind(&i.reference)
        .bind(i.status.as_str())
        .bind(i.amount.amount)
        .bind(i.amount.currency.as_str())
        .bind(i.amount_refunded)
        .bind(&i.return_url)
        .bind(&i.provider_intent_id)
        .bind(&i.checkout_url)
        .bind(&i.failure_code)
        .bind(&i.failure_message)
        .bind(stored.cancel.as_str())
        .bind(i64::from(stored.cancel_attempts))
        .bind(micros(stored.cancel_next_at))
        .bind(i.version)
        .bind(micros(i.created_at))
        .bind(micros(i.updated_at))
        .bind(i.purpose.as_str())
        .bind(i.modification.unwrap_or(0))
        .bind(stored.adopted_at.map(micros))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()));
    Ok(done.map_err(db_error)? == 1)
}

/// Writes every mutable field of an intent whose stored version is `expected`; `conflict`
/// if it moved on (the caller read it without its lock).
pub(crate) async fn update_intent(tx: &mut Tx, stored: &StoredIntent, expected: i64) -> Result<()> {
    let i = &stored.intent;
    let done = on_tx!(tx, conn => sqlx::query(
            "UPDATE payment_intents SET status = $3, amount_refunded = $4, \
             provider_intent_id = $5, checkout_url = $6, failure_code = $7, failure_message = $8, \
             provider_cancel = $9, cancel_attempts = $10, cancel_next_at = $11, version = $12, \
             updated_at = $13, adopted_at = $14 WHERE id = $1 AND version = $2")
        .bind(i.id.0)
        .bind(expected)
        .bind(i.status.as_str())
        .bind(i.amount_refunded)
        .bind(&i.provider_intent_id)
        .bind(&i.checkout_url)
        .bind(&i.failure_code)
        .bind(&i.failure_message)
        .bind(stored.cancel.as_str())
        .bind(i64::from(stored.cancel_attempts))
        .bind(micros(stored.cancel_next_at))
        .bind(i.version)
        .bind(micros(i.updated_at))
        .bind(stored.adopted_at.map(micros))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()));
    if done.map_err(db_error)? != 1 {
        return Err(Error::conflict(format!(
            "payment {} changed meanwhile; retry",
            i.id
        )));
    }
    Ok(())
}

/// A payment by id, locked for the transaction.
pub(crate) async fn intent_in(tx: &mut Tx, id: PaymentId) -> Result<Option<StoredIntent>> {
    let row = locked_row!(
        tx,
        IntentRow,
        "SELECT id, booking_id, guest_id, reference, status, amount, currency, amount_refunded, \
         return_url, provider_intent_id, checkout_url, failure_code, failure_message, \
         provider_cancel, cancel_attempts, cancel_next_at, version, created_at, updated_at, \
         purpose, modification, adopted_at FROM payment_intents WHERE id = $1",
        id.0
    );
    row.map_err(db_error)?.map(IntentRow::decode).transpose()
}

/// A booking's payment for its price (the one its latest change opened, else its first),
/// locked for the transaction.
pub(crate) async fn intent_for_booking_in(
    tx: &mut Tx,
    booking_id: Uuid,
) -> Result<Option<StoredIntent>> {
    Ok(intents_of_booking_in(tx, booking_id)
        .await?
        .into_iter()
        .rfind(|i| i.intent.purpose == IntentPurpose::Booking))
}

/// Every payment of a booking in the order they were opened, locked for the transaction.
pub(crate) async fn intents_of_booking_in(
    tx: &mut Tx,
    booking_id: Uuid,
) -> Result<Vec<StoredIntent>> {
    macro_rules! select {
        () => {
            concat!(
                "SELECT ",
                intent_columns!(),
                " FROM payment_intents WHERE booking_id = $1 ORDER BY modification, created_at"
            )
        };
    }
    let rows = match tx {
        Tx::Sqlite(tx) => {
            sqlx::query_as::<_, IntentRow>(select!())
                .bind(booking_id)
                .fetch_all(&mut **tx)
                .await
        }
        Tx::Postgres(tx) => {
            sqlx::query_as::<_, IntentRow>(concat!(select!(), " FOR UPDATE"))
                .bind(booking_id)
                .fetch_all(&mut **tx)
                .await
        }
    };
    rows.map_err(db_error)?
        .into_iter()
        .map(IntentRow::decode)
        .collect()
}

/// The payment of a provider intent id, locked for the transaction.
pub(crate) async fn intent_by_provider_in(
    tx: &mut Tx,
    provider_intent_id: &str,
) -> Result<Option<StoredIntent>> {
    let row = locked_row!(
        tx,
        IntentRow,
        "SELECT id, booking_id, guest_id, reference, status, amount, currency, amount_refunded, \
         return_url, provider_intent_id, checkout_url, failure_code, failure_message, \
         provider_cancel, cancel_attempts, cancel_next_at, version, created_at, updated_at, \
         purpose, modification, adopted_at FROM payment_intents WHERE provider_intent_id = $1",
        provider_intent_id
    );
    row.map_err(db_error)?.map(IntentRow::decode).transpose()
}

/// Records a refund; `false` when the payment has one under that key (nothing written).
pub(crate) async fn insert_refund(tx: &mut Tx, stored: &StoredRefund) -> Result<bool> {
    let r = &stored.refund;
    let done = on_tx!(tx, conn => sqlx::query(concat!(
            "INSERT INTO payment_refunds (", refund_columns!(), ") VALUES ($1, $2, $3, $4, $5, \
             $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (payment_id, refund_key) DO NOTHING"))
        .bind(r.id)
        .bind(r.payment_id.0)
        .bind(r.booking_id)
        .bind(&r.key)
        .bind(r.amount.amount)
        .bind(r.amount.currency.as_str())
        .bind(&r.reason)
        .bind(r.status.as_str())
        .bind(&r.provider_refund_id)
        .bind(i64::from(stored.attempts))
        .bind(micros(stored.next_attempt_at))
        .bind(&r.last_error)
        .bind(micros(r.created_at))
        .bind(micros(r.created_at))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()));
    Ok(done.map_err(db_error)? == 1)
}

/// Writes a refund's status, provider id, attempts and error.
pub(crate) async fn update_refund(
    tx: &mut Tx,
    stored: &StoredRefund,
    now: OffsetDateTime,
) -> Result<()> {
    let r = &stored.refund;
    let done = on_tx!(tx, conn => sqlx::query(
            "UPDATE payment_refunds SET status = $2, provider_refund_id = $3, attempts = $4, \
             next_attempt_at = $5, last_error = $6, updated_at = $7 WHERE id = $1")
        .bind(r.id)
        .bind(r.status.as_str())
        .bind(&r.provider_refund_id)
        .bind(i64::from(stored.attempts))
        .bind(micros(stored.next_attempt_at))
        .bind(&r.last_error)
        .bind(micros(now))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()));
    done.map_err(db_error)?;
    Ok(())
}

/// A payment's refund under `key`, locked for the transaction.
pub(crate) async fn refund_by_key_in(
    tx: &mut Tx,
    payment_id: PaymentId,
    key: &str,
) -> Result<Option<StoredRefund>> {
    let row = locked_row!(
        tx,
        RefundRow,
        "SELECT id, payment_id, booking_id, refund_key, amount, currency, reason, status, \
         provider_refund_id, attempts, next_attempt_at, last_error, created_at, updated_at \
         FROM payment_refunds WHERE payment_id = $1 AND refund_key = $2",
        payment_id.0,
        key
    );
    row.map_err(db_error)?.map(RefundRow::decode).transpose()
}

/// A refund by id, locked for the transaction.
pub(crate) async fn refund_in(tx: &mut Tx, id: Uuid) -> Result<Option<StoredRefund>> {
    let row = locked_row!(
        tx,
        RefundRow,
        "SELECT id, payment_id, booking_id, refund_key, amount, currency, reason, status, \
         provider_refund_id, attempts, next_attempt_at, last_error, created_at, updated_at \
         FROM payment_refunds WHERE id = $1",
        id
    );
    row.map_err(db_error)?.map(RefundRow::decode).transpose()
}

/// A payment's refunds in a transaction, oldest first.
pub(crate) async fn refunds_in(tx: &mut Tx, payment_id: PaymentId) -> Result<Vec<StoredRefund>> {
    let rows = on_tx!(tx, conn => sqlx::query_as::<_, RefundRow>(
            concat!("SELECT ", refund_columns!(), " FROM payment_refunds WHERE payment_id = $1 \
                     ORDER BY created_at, id"))
        .bind(payment_id.0)
        .fetch_all(conn)
        .await);
    rows.map_err(db_error)?
        .into_iter()
        .map(RefundRow::decode)
        .collect()
}

/// Records a webhook message id; `false` when it was seen before (nothing written).
pub(crate) async fn insert_receipt(
    tx: &mut Tx,
    webhook_id: &str,
    event_type: &str,
    at: OffsetDateTime,
) -> Result<bool> {
    let done = on_tx!(tx, conn => sqlx::query(
            "INSERT INTO webhook_receipts (webhook_id, event_type, received_at) \
             VALUES ($1, $2, $3) ON CONFLICT (webhook_id) DO NOTHING")
        .bind(webhook_id)
        .bind(event_type)
        .bind(micros(at))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()));
    Ok(done.map_err(db_error)? == 1)
}
