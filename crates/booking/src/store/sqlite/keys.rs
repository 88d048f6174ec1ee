//! Idempotency keys on SQLite: claim, complete, abandon, reap.

use innkeeper_kernel::{Error, Result};
use innkeeper_platform::db::SqliteDb;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use super::{WriteTx, db_error, from_micros, internal, micros};
use crate::store::{Claim, Claimed, Completion, Judgement, StoredResponse, judge_claim};

const COMPLETE_KEY: &str = "UPDATE idempotency_keys SET status = 'completed', response_status = ?, \
     response_body = ?, completed_at = ? WHERE caller = ? AND idempotency_key = ? AND status = 'in_flight'";

/// Stores the answer of an in-flight key inside `tx`; `conflict` if it is not in flight.
pub(super) async fn complete_key(tx: &mut WriteTx, completion: &Completion) -> Result<()> {
    let done = sqlx::query(COMPLETE_KEY)
        .bind(i64::from(completion.response.status))
        .bind(&completion.response.body)
        .bind(micros(completion.now))
        .bind(&completion.caller)
        .bind(&completion.key)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(Error::conflict("the idempotency key is not in flight"))
    }
}

/// The stored answer of a row, if it has one.
fn stored_response(row: &SqliteRow) -> Result<Option<StoredResponse>> {
    let status: Option<i64> = row.try_get("response_status").map_err(internal)?;
    let body: Option<String> = row.try_get("response_body").map_err(internal)?;
    Ok(match (status, body) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status).map_err(internal)?,
            body,
        }),
        _ => None,
    })
}

/// Claims a key (see `BookingStore::claim`).
pub(super) async fn claim(db: &SqliteDb, claim: &Claim) -> Result<Claimed> {
    let mut tx = db
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(db_error)?;
    let found = sqlx::query(
        "SELECT fingerprint, status, response_status, response_body, locked_until, resource_id \
         FROM idempotency_keys WHERE caller = ? AND idempotency_key = ?",
    )
    .bind(&claim.caller)
    .bind(&claim.key)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    let locked_until = micros(claim.now + claim.lease);
    let Some(row) = found else {
        sqlx::query(
            "INSERT INTO idempotency_keys (caller, idempotency_key, fingerprint, resource_id, \
             status, locked_until, created_at) VALUES (?, ?, ?, ?, 'in_flight', ?, ?)",
        )
        .bind(&claim.caller)
        .bind(&claim.key)
        .bind(&claim.fingerprint)
        .bind(claim.resource_id)
        .bind(locked_until)
        .bind(micros(claim.now))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        return Ok(Claimed::Run {
            resource_id: claim.resource_id,
        });
    };
    let fingerprint: Vec<u8> = row.try_get("fingerprint").map_err(internal)?;
    let status: String = row.try_get("status").map_err(internal)?;
    let response = stored_response(&row)?;
    let lease_end = from_micros(row.try_get("locked_until").map_err(internal)?)?;
    match judge_claim(claim, &fingerprint, &status, lease_end, response) {
        Judgement::Answer(answer) => Ok(answer),
        Judgement::TakeOver => {
            sqlx::query(
                "UPDATE idempotency_keys SET locked_until = ? WHERE caller = ? AND idempotency_key = ?",
            )
            .bind(locked_until)
            .bind(&claim.caller)
            .bind(&claim.key)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(Claimed::Run {
                resource_id: row.try_get("resource_id").map_err(internal)?,
            })
        }
    }
}

/// Completes a key without another effect.
pub(super) async fn complete(db: &SqliteDb, completion: &Completion) -> Result<()> {
    let mut tx = db
        .writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(db_error)?;
    complete_key(&mut tx, completion).await?;
    tx.commit().await.map_err(db_error)
}

/// Ends the lease of an in-flight key.
pub(super) async fn abandon(
    db: &SqliteDb,
    caller: &str,
    key: &str,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET locked_until = ? \
         WHERE caller = ? AND idempotency_key = ? AND status = 'in_flight'",
    )
    .bind(micros(now))
    .bind(caller)
    .bind(key)
    .execute(&db.writer)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Deletes up to `limit` keys created before `before`.
pub(super) async fn reap(db: &SqliteDb, before: OffsetDateTime, limit: u32) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys \
         WHERE created_at < ? ORDER BY created_at LIMIT ?)",
    )
    .bind(micros(before))
    .bind(i64::from(limit))
    .execute(&db.writer)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected())
}
