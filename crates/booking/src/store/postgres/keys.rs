//! Idempotency keys on PostgreSQL: claim, complete, abandon, reap.

use innkeeper_kernel::{Error, Result};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row as _};
use time::OffsetDateTime;

use super::{db_error, internal};
use crate::store::{Claim, Claimed, Completion, Judgement, StoredResponse, judge_claim};

const COMPLETE_KEY: &str = "UPDATE idempotency_keys SET status = 'completed', response_status = $1, \
     response_body = $2, completed_at = $3 WHERE caller = $4 AND idempotency_key = $5 AND status = 'in_flight'";

// A new key's claim does not wait for the disk (`commit_without_flush`): it only guards the
// request while it runs, and every effect that follows it (the hold, the booking with the
// key's answer) commits durably on its own. A crash may lose a claim whose request then
// failed; the client's retry claims the key afresh. A claim lost while a hold placed under
// it survived (the catalog on another server) leaves that hold to lapse at its TTL, as any
// abandoned hold does.
const CLAIM_KEY: &str = concat!(
    "INSERT INTO idempotency_keys (caller, idempotency_key, fingerprint, resource_id, \
     status, locked_until, created_at) SELECT $1, $2, $3, $4, 'in_flight', $5, $6 WHERE ",
    innkeeper_platform::commit_without_flush!(),
    " ON CONFLICT (caller, idempotency_key) DO NOTHING"
);

/// Stores the answer of an in-flight key through `conn` (inside the effect's transaction, or
/// on its own); `conflict` if it is not in flight.
pub(super) async fn complete_key(conn: &mut PgConnection, completion: &Completion) -> Result<()> {
    let done = sqlx::query(COMPLETE_KEY)
        .bind(i32::from(completion.response.status))
        .bind(&completion.response.body)
        .bind(completion.now)
        .bind(&completion.caller)
        .bind(&completion.key)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(Error::conflict("the idempotency key is not in flight"))
    }
}

/// The stored answer of a row, if it has one.
fn stored_response(row: &PgRow) -> Result<Option<StoredResponse>> {
    let status: Option<i32> = row.try_get("response_status").map_err(internal)?;
    let body: Option<String> = row.try_get("response_body").map_err(internal)?;
    Ok(match (status, body) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status).map_err(internal)?,
            body,
        }),
        _ => None,
    })
}

/// Claims a key (see `BookingStore::claim`). A new key, the common case, is one statement
/// on its own (one round trip); only a key somebody holds is looked at in a transaction.
pub(super) async fn claim(pool: &PgPool, claim: &Claim) -> Result<Claimed> {
    let locked_until = claim.now + claim.lease;
    let inserted = sqlx::query(CLAIM_KEY)
        .bind(&claim.caller)
        .bind(&claim.key)
        .bind(&claim.fingerprint)
        .bind(claim.resource_id)
        .bind(locked_until)
        .bind(claim.now)
        .execute(pool)
        .await
        .map_err(db_error)?;
    if inserted.rows_affected() == 1 {
        return Ok(Claimed::Run {
            resource_id: claim.resource_id,
        });
    }
    let mut tx = pool.begin().await.map_err(db_error)?;
    // Somebody holds the key: look at it under a row lock, so two late claims of an
    // abandoned key cannot both take it over.
    let row = sqlx::query(
        "SELECT fingerprint, status, response_status, response_body, locked_until, resource_id \
         FROM idempotency_keys WHERE caller = $1 AND idempotency_key = $2 FOR UPDATE",
    )
    .bind(&claim.caller)
    .bind(&claim.key)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error)?;
    let fingerprint: Vec<u8> = row.try_get("fingerprint").map_err(internal)?;
    let status: String = row.try_get("status").map_err(internal)?;
    let response = stored_response(&row)?;
    let lease_end: OffsetDateTime = row.try_get("locked_until").map_err(internal)?;
    match judge_claim(claim, &fingerprint, &status, lease_end, response) {
        Judgement::Answer(answer) => Ok(answer),
        Judgement::TakeOver => {
            sqlx::query(
                "UPDATE idempotency_keys SET locked_until = $1 WHERE caller = $2 AND idempotency_key = $3",
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

/// Completes a key without another effect (an answer such as `sold_out`): one statement.
pub(super) async fn complete(pool: &PgPool, completion: &Completion) -> Result<()> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    complete_key(&mut conn, completion).await
}

/// Ends the lease of an in-flight key.
pub(super) async fn abandon(
    pool: &PgPool,
    caller: &str,
    key: &str,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET locked_until = $1 \
         WHERE caller = $2 AND idempotency_key = $3 AND status = 'in_flight'",
    )
    .bind(now)
    .bind(caller)
    .bind(key)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Deletes up to `limit` keys created before `before`.
pub(super) async fn reap(pool: &PgPool, before: OffsetDateTime, limit: u32) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM idempotency_keys WHERE (caller, idempotency_key) IN \
         (SELECT caller, idempotency_key FROM idempotency_keys WHERE created_at < $1 \
          ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(before)
    .bind(i64::from(limit))
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected())
}
