//! The statements both backends run, as one macro expanded in each backend's module.
//!
//! The expanding module provides `Tx` (its write transaction), `to_db` / `from_db` (instants to
//! and from its column type) and `db_error` (a database failure no statement claimed); the
//! macro's arguments are the store type, the row type, the instant type and what claiming
//! deliveries appends to its subquery (`FOR UPDATE SKIP LOCKED` on PostgreSQL).

/// The columns [`intent`](sql_store) rows are read from, in insert order.
macro_rules! intent_columns {
    () => {
        "id, amount, currency, status, amount_received, amount_refunded, return_url, description, \
         metadata, error_code, error_decline_code, error_message, payment_method, settle_at, \
         canceled_at, cancellation_reason, version, created_at, updated_at"
    };
}

macro_rules! sql_store {
    (store: $store:ty, row: $row:ty, instant: $instant:ty, claim_lock: $lock:literal) => {
        use std::collections::BTreeMap;

        use async_trait::async_trait;
        use innkeeper_kernel::{Error, Result};
        use sqlx::Row as _;
        use time::OffsetDateTime;

        use crate::domain::{
            IntentStatus, LedgerEntry, LedgerKind, PaymentError, PaymentIntent, Refund,
        };
        use crate::store::{
            AttemptRecord, AttemptResult, Change, Committed, Delivery, DeliveryRecord,
            DeliveryStatus, IntentWrite, NewDelivery, NewKey, ProviderStore, StoredKey,
        };

        fn opt_to_db(at: Option<OffsetDateTime>) -> Result<Option<$instant>> {
            at.map(to_db).transpose()
        }

        fn opt_from_db(value: Option<$instant>) -> Result<Option<OffsetDateTime>> {
            value.map(from_db).transpose()
        }

        fn count(value: i64, what: &str) -> Result<u32> {
            u32::try_from(value)
                .map_err(|_| Error::internal(format!("stored {what} {value} is not a count")))
        }

        fn is_unique_violation(err: &sqlx::Error) -> bool {
            err.as_database_error()
                .is_some_and(|e| e.is_unique_violation())
        }

        fn intent(row: &$row) -> Result<PaymentIntent> {
            let get_err = |e: sqlx::Error| db_error(e);
            let status: String = row.try_get("status").map_err(get_err)?;
            let metadata: String = row.try_get("metadata").map_err(get_err)?;
            let error_code: Option<String> = row.try_get("error_code").map_err(get_err)?;
            let last_payment_error = match error_code {
                Some(code) => Some(PaymentError {
                    code,
                    decline_code: row.try_get("error_decline_code").map_err(get_err)?,
                    message: row
                        .try_get::<Option<String>, _>("error_message")
                        .map_err(get_err)?
                        .unwrap_or_default(),
                }),
                None => None,
            };
            Ok(PaymentIntent {
                id: row.try_get("id").map_err(get_err)?,
                amount: row.try_get("amount").map_err(get_err)?,
                currency: row.try_get("currency").map_err(get_err)?,
                status: IntentStatus::parse(&status)
                    .ok_or_else(|| Error::internal(format!("stored intent status {status:?}")))?,
                amount_received: row.try_get("amount_received").map_err(get_err)?,
                amount_refunded: row.try_get("amount_refunded").map_err(get_err)?,
                return_url: row.try_get("return_url").map_err(get_err)?,
                description: row.try_get("description").map_err(get_err)?,
                metadata: serde_json::from_str::<BTreeMap<String, String>>(&metadata)
                    .map_err(|e| Error::internal(format!("stored intent metadata: {e}")))?,
                last_payment_error,
                payment_method: row.try_get("payment_method").map_err(get_err)?,
                settle_at: opt_from_db(row.try_get("settle_at").map_err(get_err)?)?,
                canceled_at: opt_from_db(row.try_get("canceled_at").map_err(get_err)?)?,
                cancellation_reason: row.try_get("cancellation_reason").map_err(get_err)?,
                version: row.try_get("version").map_err(get_err)?,
                created_at: from_db(row.try_get("created_at").map_err(get_err)?)?,
                updated_at: from_db(row.try_get("updated_at").map_err(get_err)?)?,
            })
        }

        fn metadata_json(intent: &PaymentIntent) -> Result<String> {
            serde_json::to_string(&intent.metadata)
                .map_err(|e| Error::internal(format!("intent metadata: {e}")))
        }

        async fn insert_intent(tx: &mut Tx, i: &PaymentIntent) -> Result<()> {
            let error = i.last_payment_error.as_ref();
            sqlx::query(concat!(
                "INSERT INTO payment_intents (",
                intent_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19)"
            ))
            .bind(&i.id)
            .bind(i.amount)
            .bind(&i.currency)
            .bind(i.status.as_str())
            .bind(i.amount_received)
            .bind(i.amount_refunded)
            .bind(&i.return_url)
            .bind(&i.description)
            .bind(metadata_json(i)?)
            .bind(error.map(|e| e.code.clone()))
            .bind(error.and_then(|e| e.decline_code.clone()))
            .bind(error.map(|e| e.message.clone()))
            .bind(&i.payment_method)
            .bind(opt_to_db(i.settle_at)?)
            .bind(opt_to_db(i.canceled_at)?)
            .bind(&i.cancellation_reason)
            .bind(i.version)
            .bind(to_db(i.created_at)?)
            .bind(to_db(i.updated_at)?)
            .execute(&mut **tx)
            .await
            .map_err(|err| {
                if is_unique_violation(&err) {
                    Error::conflict(format!("payment intent {} exists already", i.id))
                } else {
                    db_error(err)
                }
            })?;
            Ok(())
        }

        /// Writes every mutable field of `i` if the stored version is `expected`.
        async fn update_intent(tx: &mut Tx, i: &PaymentIntent, expected: i64) -> Result<()> {
            let error = i.last_payment_error.as_ref();
            let updated = sqlx::query(
                "UPDATE payment_intents SET status = $3, amount_received = $4, \
                 amount_refunded = $5, error_code = $6, error_decline_code = $7, \
                 error_message = $8, payment_method = $9, settle_at = $10, canceled_at = $11, \
                 cancellation_reason = $12, version = $13, updated_at = $14 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(&i.id)
            .bind(expected)
            .bind(i.status.as_str())
            .bind(i.amount_received)
            .bind(i.amount_refunded)
            .bind(error.map(|e| e.code.clone()))
            .bind(error.and_then(|e| e.decline_code.clone()))
            .bind(error.map(|e| e.message.clone()))
            .bind(&i.payment_method)
            .bind(opt_to_db(i.settle_at)?)
            .bind(opt_to_db(i.canceled_at)?)
            .bind(&i.cancellation_reason)
            .bind(i.version)
            .bind(to_db(i.updated_at)?)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            if updated.rows_affected() == 1 {
                return Ok(());
            }
            let current: Option<i64> =
                sqlx::query_scalar("SELECT version FROM payment_intents WHERE id = $1")
                    .bind(&i.id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db_error)?;
            match current {
                Some(version) => Err(Error::version_mismatch(version)),
                None => Err(Error::not_found("payment intent", &i.id)),
            }
        }

        async fn insert_refund(tx: &mut Tx, r: &Refund) -> Result<()> {
            sqlx::query(
                "INSERT INTO refunds (id, payment_intent, amount, currency, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&r.id)
            .bind(&r.payment_intent)
            .bind(r.amount)
            .bind(&r.currency)
            .bind(&r.reason)
            .bind(to_db(r.created_at)?)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            Ok(())
        }

        async fn insert_ledger_entry(tx: &mut Tx, e: &LedgerEntry) -> Result<()> {
            sqlx::query(
                "INSERT INTO ledger_entries (payment_intent, kind, amount, currency, refund_id, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&e.payment_intent)
            .bind(e.kind.as_str())
            .bind(e.amount)
            .bind(&e.currency)
            .bind(&e.refund_id)
            .bind(to_db(e.at)?)
            .execute(&mut **tx)
            .await
            .map_err(|err| {
                if is_unique_violation(&err) {
                    Error::conflict(format!(
                        "payment intent {} is captured already",
                        e.payment_intent
                    ))
                } else {
                    db_error(err)
                }
            })?;
            Ok(())
        }

        async fn insert_delivery(tx: &mut Tx, d: &NewDelivery) -> Result<()> {
            sqlx::query(
                "INSERT INTO webhook_deliveries (event_id, event_type, payload, status, attempts, \
                 next_attempt_at, locked_until, last_error, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'pending', 0, $4, NULL, NULL, $4, $4)",
            )
            .bind(&d.event_id)
            .bind(&d.event_type)
            .bind(&d.payload)
            .bind(to_db(d.created_at)?)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            Ok(())
        }

        async fn find_key_in(tx: &mut Tx, key: &str) -> Result<Option<StoredKey>> {
            let row = sqlx::query(
                "SELECT fingerprint, response_status, response_body FROM idempotency_keys \
                 WHERE key = $1",
            )
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
            row.map(|row| stored_key(&row)).transpose()
        }

        fn stored_key(row: &$row) -> Result<StoredKey> {
            let status: i64 = row.try_get("response_status").map_err(db_error)?;
            Ok(StoredKey {
                fingerprint: row.try_get("fingerprint").map_err(db_error)?,
                status: u16::try_from(status)
                    .map_err(|_| Error::internal(format!("stored response status {status}")))?,
                body: row.try_get("response_body").map_err(db_error)?,
            })
        }

        async fn insert_key(tx: &mut Tx, k: &NewKey) -> Result<()> {
            sqlx::query(
                "INSERT INTO idempotency_keys (key, fingerprint, response_status, response_body, \
                 created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&k.key)
            .bind(&k.fingerprint)
            .bind(i64::from(k.status))
            .bind(&k.body)
            .bind(to_db(k.created_at)?)
            .execute(&mut **tx)
            .await
            .map_err(|err| {
                if is_unique_violation(&err) {
                    Error::conflict("a concurrent request used this idempotency key")
                } else {
                    db_error(err)
                }
            })?;
            Ok(())
        }

        async fn apply(tx: &mut Tx, change: &Change) -> Result<Committed> {
            if let Some(key) = &change.key {
                if let Some(stored) = find_key_in(tx, &key.key).await? {
                    return Ok(Committed::Replay(stored));
                }
            }
            match &change.intent {
                Some(IntentWrite::Insert(i)) => insert_intent(tx, i).await?,
                Some(IntentWrite::Update {
                    intent,
                    expected_version,
                }) => update_intent(tx, intent, *expected_version).await?,
                None => {}
            }
            if let Some(refund) = &change.refund {
                insert_refund(tx, refund).await?;
            }
            for entry in &change.ledger {
                insert_ledger_entry(tx, entry).await?;
            }
            for delivery in &change.deliveries {
                insert_delivery(tx, delivery).await?;
            }
            if let Some(key) = &change.key {
                insert_key(tx, key).await?;
            }
            Ok(Committed::Applied)
        }

        fn refund(row: &$row) -> Result<Refund> {
            Ok(Refund {
                id: row.try_get("id").map_err(db_error)?,
                payment_intent: row.try_get("payment_intent").map_err(db_error)?,
                amount: row.try_get("amount").map_err(db_error)?,
                currency: row.try_get("currency").map_err(db_error)?,
                reason: row.try_get("reason").map_err(db_error)?,
                created_at: from_db(row.try_get("created_at").map_err(db_error)?)?,
            })
        }

        fn ledger_entry(row: &$row) -> Result<LedgerEntry> {
            let kind: String = row.try_get("kind").map_err(db_error)?;
            Ok(LedgerEntry {
                payment_intent: row.try_get("payment_intent").map_err(db_error)?,
                kind: match kind.as_str() {
                    "capture" => LedgerKind::Capture,
                    "refund" => LedgerKind::Refund,
                    other => return Err(Error::internal(format!("ledger kind {other:?}"))),
                },
                amount: row.try_get("amount").map_err(db_error)?,
                currency: row.try_get("currency").map_err(db_error)?,
                refund_id: row.try_get("refund_id").map_err(db_error)?,
                at: from_db(row.try_get("at").map_err(db_error)?)?,
            })
        }

        fn delivery_record(row: &$row) -> Result<DeliveryRecord> {
            let status: String = row.try_get("status").map_err(db_error)?;
            Ok(DeliveryRecord {
                event_id: row.try_get("event_id").map_err(db_error)?,
                event_type: row.try_get("event_type").map_err(db_error)?,
                status: DeliveryStatus::parse(&status)
                    .ok_or_else(|| Error::internal(format!("delivery status {status:?}")))?,
                attempts: count(row.try_get("attempts").map_err(db_error)?, "attempts")?,
                next_attempt_at: from_db(row.try_get("next_attempt_at").map_err(db_error)?)?,
                created_at: from_db(row.try_get("created_at").map_err(db_error)?)?,
                last_error: row.try_get("last_error").map_err(db_error)?,
            })
        }

        fn attempt_record(row: &$row) -> Result<AttemptRecord> {
            let duration: i64 = row.try_get("duration_ms").map_err(db_error)?;
            let status_code: Option<i64> = row.try_get("status_code").map_err(db_error)?;
            Ok(AttemptRecord {
                event_id: row.try_get("event_id").map_err(db_error)?,
                attempt: count(row.try_get("attempt").map_err(db_error)?, "attempt")?,
                started_at: from_db(row.try_get("started_at").map_err(db_error)?)?,
                duration_ms: u64::try_from(duration).unwrap_or(0),
                status_code: status_code.and_then(|s| u16::try_from(s).ok()),
                error: row.try_get("error").map_err(db_error)?,
            })
        }

        #[async_trait]
        impl ProviderStore for $store {
            async fn migrate(&self) -> anyhow::Result<()> {
                self.run_migrations().await
            }

            async fn commit(&self, change: &Change) -> Result<Committed> {
                let mut tx = self.write().await?;
                let committed = apply(&mut tx, change).await?;
                match committed {
                    Committed::Applied => tx.commit().await.map_err(db_error)?,
                    Committed::Replay(_) => tx.rollback().await.map_err(db_error)?,
                }
                Ok(committed)
            }

            async fn find_key(&self, key: &str) -> Result<Option<StoredKey>> {
                let row = sqlx::query(
                    "SELECT fingerprint, response_status, response_body FROM idempotency_keys \
                     WHERE key = $1",
                )
                .bind(key)
                .fetch_optional(self.reader())
                .await
                .map_err(db_error)?;
                row.map(|row| stored_key(&row)).transpose()
            }

            async fn prune_keys(&self, before: OffsetDateTime) -> Result<u64> {
                let mut tx = self.write().await?;
                let deleted = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(to_db(before)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(deleted.rows_affected())
            }

            async fn get_intent(&self, id: &str) -> Result<Option<PaymentIntent>> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    intent_columns!(),
                    " FROM payment_intents WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_error)?;
                row.map(|row| intent(&row)).transpose()
            }

            async fn due_settlements(
                &self,
                now: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<PaymentIntent>> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    intent_columns!(),
                    " FROM payment_intents WHERE status = 'processing' AND settle_at <= $1 \
                     ORDER BY settle_at LIMIT $2"
                ))
                .bind(to_db(now)?)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
                rows.iter().map(intent).collect()
            }

            async fn refunds(&self, payment_intent: &str) -> Result<Vec<Refund>> {
                let rows = sqlx::query(
                    "SELECT id, payment_intent, amount, currency, reason, created_at FROM refunds \
                     WHERE payment_intent = $1 ORDER BY created_at, id",
                )
                .bind(payment_intent)
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
                rows.iter().map(refund).collect()
            }

            async fn ledger(&self, payment_intent: Option<&str>) -> Result<Vec<LedgerEntry>> {
                let rows = sqlx::query(
                    "SELECT payment_intent, kind, amount, currency, refund_id, at \
                     FROM ledger_entries WHERE ($1 IS NULL OR payment_intent = $1) ORDER BY seq",
                )
                .bind(payment_intent)
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
                rows.iter().map(ledger_entry).collect()
            }

            async fn claim_deliveries(
                &self,
                now: OffsetDateTime,
                lease_until: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<Delivery>> {
                let mut tx = self.write().await?;
                let rows = sqlx::query(concat!(
                    "UPDATE webhook_deliveries SET locked_until = $2 WHERE event_id IN (\
                     SELECT event_id FROM webhook_deliveries WHERE status = 'pending' \
                     AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until <= $1) \
                     ORDER BY next_attempt_at LIMIT $3 ",
                    $lock,
                    ") RETURNING event_id, event_type, payload, attempts, created_at"
                ))
                .bind(to_db(now)?)
                .bind(to_db(lease_until)?)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                let mut claimed = rows
                    .iter()
                    .map(|row| {
                        Ok(Delivery {
                            event_id: row.try_get("event_id").map_err(db_error)?,
                            event_type: row.try_get("event_type").map_err(db_error)?,
                            payload: row.try_get("payload").map_err(db_error)?,
                            attempts: count(row.try_get("attempts").map_err(db_error)?, "attempts")?,
                            created_at: from_db(row.try_get("created_at").map_err(db_error)?)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                claimed.sort_by(|a, b| a.created_at.cmp(&b.created_at));
                Ok(claimed)
            }

            async fn finish_attempt(
                &self,
                attempt: &AttemptRecord,
                result: AttemptResult,
            ) -> Result<()> {
                let (status, next) = match result {
                    AttemptResult::Delivered => (DeliveryStatus::Delivered, None),
                    AttemptResult::Retry(at) => (DeliveryStatus::Pending, Some(at)),
                    AttemptResult::GiveUp => (DeliveryStatus::Failed, None),
                };
                let mut tx = self.write().await?;
                sqlx::query(
                    "INSERT INTO webhook_attempts (event_id, attempt, started_at, duration_ms, \
                     status_code, error) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&attempt.event_id)
                .bind(i64::from(attempt.attempt))
                .bind(to_db(attempt.started_at)?)
                .bind(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX))
                .bind(attempt.status_code.map(i64::from))
                .bind(&attempt.error)
                .execute(&mut *tx)
                .await
                .map_err(|err| {
                    if is_unique_violation(&err) {
                        Error::conflict(format!(
                            "attempt {} of {} is logged already",
                            attempt.attempt, attempt.event_id
                        ))
                    } else {
                        db_error(err)
                    }
                })?;
                let finished = attempt.started_at
                    + time::Duration::milliseconds(
                        i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
                    );
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = $2, attempts = $3, \
                     next_attempt_at = COALESCE($4, next_attempt_at), locked_until = NULL, \
                     last_error = $5, updated_at = $6 WHERE event_id = $1",
                )
                .bind(&attempt.event_id)
                .bind(status.as_str())
                .bind(i64::from(attempt.attempt))
                .bind(opt_to_db(next)?)
                .bind(&attempt.error)
                .bind(to_db(finished)?)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)
            }

            async fn deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>> {
                let rows = sqlx::query(
                    "SELECT event_id, event_type, status, attempts, next_attempt_at, created_at, \
                     last_error FROM webhook_deliveries ORDER BY created_at DESC, event_id DESC \
                     LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
                rows.iter().map(delivery_record).collect()
            }

            async fn attempts(&self, event_id: &str) -> Result<Vec<AttemptRecord>> {
                let rows = sqlx::query(
                    "SELECT event_id, attempt, started_at, duration_ms, status_code, error \
                     FROM webhook_attempts WHERE event_id = $1 ORDER BY attempt",
                )
                .bind(event_id)
                .fetch_all(self.reader())
                .await
                .map_err(db_error)?;
                rows.iter().map(attempt_record).collect()
            }
        }
    };
}

pub(super) use {intent_columns, sql_store};
