//! The in-process bus (embedded shape), built on the outbox itself.
//!
//! Subscriptions are rows in the producer's database. Publishing a batch writes one delivery
//! row per (subscribed consumer, event), idempotently, so a relay that publishes again adds
//! nothing still pending; [`crate::Relay::to_bus`] does it atomically with stamping the rows
//! sent, so each row is fanned out exactly once. A [`BusConsumer`] reads its deliveries in
//! outbox order, hands each event to its [`Dispatcher`] and deletes the deliveries once handled: a restart redelivers
//! whatever was not acknowledged, and the inbox absorbs the repeats. Published rows stay in the
//! outbox until no delivery refers to them.

use std::sync::Arc;

use async_trait::async_trait;
use innkeeper_platform::db::Database;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::consumer::{Consumer, ConsumerSettings, end};
use crate::dispatcher::Dispatcher;
use crate::envelope::micros;
use crate::outbox::{EventRow, event_columns};
use crate::relay::{RELAY_LOCK, Record, Transport, TransportError};
use time::OffsetDateTime;

/// The in-process transport over one producer database.
#[derive(Debug, Clone)]
pub struct Bus {
    db: Database,
    wake: Arc<Notify>,
}

const DELIVER_SQLITE: &str = "INSERT INTO event_deliveries (consumer, seq) \
     SELECT s.consumer, o.seq FROM event_outbox o JOIN event_subscriptions s ON s.topic = o.topic \
     WHERE o.seq IN (SELECT value FROM json_each(?)) \
     ON CONFLICT (consumer, seq) DO NOTHING";
// The bus's own writes on PostgreSQL (deliveries, stamps, acknowledgements) commit without
// waiting for the disk (`commit_without_flush`): a crash may lose the last of them, and then
// an event is fanned out or delivered again, which at-least-once delivery and the consumers'
// inboxes already allow. What they follow (the event's row, a handler's effects) committed
// durably before them.
const DELIVER_POSTGRES: &str = concat!(
    "INSERT INTO event_deliveries (consumer, seq) \
     SELECT s.consumer, o.seq FROM event_outbox o JOIN event_subscriptions s ON s.topic = o.topic \
     WHERE o.seq = ANY($1) AND ",
    innkeeper_platform::commit_without_flush!(),
    " ON CONFLICT (consumer, seq) DO NOTHING"
);
const ACKNOWLEDGE_POSTGRES: &str = concat!(
    "DELETE FROM event_deliveries WHERE consumer = $1 AND seq = ANY($2) AND ",
    innkeeper_platform::commit_without_flush!()
);

const PENDING_SQLITE: &str = concat!(
    "SELECT ",
    event_columns!("o"),
    " FROM event_deliveries d JOIN event_outbox o ON o.seq = d.seq WHERE d.consumer = ? ORDER BY d.seq LIMIT ?"
);
const PENDING_POSTGRES: &str = concat!(
    "SELECT ",
    event_columns!("o"),
    " FROM event_deliveries d JOIN event_outbox o ON o.seq = d.seq WHERE d.consumer = $1 ORDER BY d.seq LIMIT $2"
);

const UNSENT_SQLITE: &str = concat!(
    "SELECT ",
    event_columns!("o"),
    " FROM event_outbox o WHERE o.published_at IS NULL ORDER BY o.seq LIMIT ?"
);
const MARK_SENT_SQLITE: &str = "UPDATE event_outbox SET published_at = ? \
     WHERE seq IN (SELECT value FROM json_each(?))";

// The relay's pass on PostgreSQL, one statement with no transaction around it: the relay lock
// (transaction-scoped, so held for the statement), the batch, its stamps and its deliveries.
// The statement's snapshot may predate the lock: a pass that committed in between stamped
// rows this one still sees unsent, and the stamp's `published_at IS NULL`, re-checked on the
// row's latest version, leaves them out; deliveries follow the stamps, so no row is fanned
// out twice. When nothing waits it finds nothing and writes nothing, as cheap as a look.
const FAN_OUT_POSTGRES: &str = concat!(
    "WITH relay AS (SELECT pg_try_advisory_xact_lock($3) AS held), \
     batch AS (SELECT seq FROM event_outbox \
         WHERE published_at IS NULL AND (SELECT held FROM relay) AND ",
    innkeeper_platform::commit_without_flush!(),
    " ORDER BY seq LIMIT $1), \
     stamped AS (UPDATE event_outbox o SET published_at = $2 FROM batch b \
         WHERE o.seq = b.seq AND o.published_at IS NULL RETURNING ",
    event_columns!("o"),
    "), \
     fanout AS (INSERT INTO event_deliveries (consumer, seq) \
         SELECT s.consumer, o.seq FROM stamped o JOIN event_subscriptions s ON s.topic = o.topic \
         ON CONFLICT (consumer, seq) DO NOTHING) \
     SELECT ",
    event_columns!("o"),
    " FROM stamped o"
);

impl Bus {
    /// The bus of the outbox in `db` (the producer's database).
    pub fn new(db: Database) -> Self {
        Self {
            db,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The database it lives in.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The relay's pass for this bus, atomic (one statement on PostgreSQL, one transaction on
    /// SQLite): takes up to `limit` unsent rows in order, writes a delivery per subscriber,
    /// stamps them sent; returns them.
    pub(crate) async fn fan_out(&self, limit: u32) -> Result<Vec<EventRow>, sqlx::Error> {
        let now = micros(OffsetDateTime::now_utc());
        let mut rows: Vec<EventRow> = match &self.db {
            Database::Sqlite(sqlite) => {
                // Every way out ends the transaction at once (see `Tx::end`).
                let mut tx = sqlite.writer.begin_with("BEGIN IMMEDIATE").await?;
                let result = fan_out_sqlite(&mut tx, limit, now).await;
                end(tx, result).await?
            }
            Database::Postgres(pool) => {
                sqlx::query_as(FAN_OUT_POSTGRES)
                    .bind(i64::from(limit))
                    .bind(now)
                    .bind(RELAY_LOCK)
                    .fetch_all(pool)
                    .await?
            }
        };
        rows.sort_by_key(|r| r.seq);
        if !rows.is_empty() {
            self.wake.notify_waiters();
        }
        Ok(rows)
    }

    /// Subscribes `consumer` (durably: from now on every event published on its topics waits
    /// for it, whether it runs or not), keeping its inbox and dead letters in `consumer_db`.
    /// Run the returned [`BusConsumer`] to deliver.
    pub async fn subscribe(
        &self,
        consumer: Arc<dyn Consumer>,
        consumer_db: Database,
        settings: ConsumerSettings,
    ) -> anyhow::Result<BusConsumer> {
        let name = consumer.name().to_owned();
        for topic in consumer.topics() {
            match &self.db {
                Database::Sqlite(sqlite) => {
                    sqlx::query(
                        "INSERT INTO event_subscriptions (consumer, topic) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    )
                    .bind(&name)
                    .bind(&topic)
                    .execute(&sqlite.writer)
                    .await?;
                }
                Database::Postgres(pool) => {
                    sqlx::query(
                        "INSERT INTO event_subscriptions (consumer, topic) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(&name)
                    .bind(&topic)
                    .execute(pool)
                    .await?;
                }
            }
        }
        Ok(BusConsumer {
            bus: self.clone(),
            dispatcher: Dispatcher::new(consumer, consumer_db, settings),
        })
    }
}

#[async_trait]
impl Transport for Bus {
    fn name(&self) -> &'static str {
        "bus"
    }

    async fn publish(&self, records: &[Record]) -> Result<(), TransportError> {
        let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
        let result = match &self.db {
            Database::Sqlite(sqlite) => {
                let seqs = serde_json::to_string(&seqs).map_err(TransportError::new)?;
                sqlx::query(DELIVER_SQLITE)
                    .bind(seqs)
                    .execute(&sqlite.writer)
                    .await
                    .map(drop)
            }
            Database::Postgres(pool) => sqlx::query(DELIVER_POSTGRES)
                .bind(seqs)
                .execute(pool)
                .await
                .map(drop),
        };
        result.map_err(TransportError::new)?;
        self.wake.notify_waiters();
        Ok(())
    }
}

/// The SQLite fan-out inside its `IMMEDIATE` transaction.
async fn fan_out_sqlite(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    limit: u32,
    now: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let rows: Vec<EventRow> = sqlx::query_as(UNSENT_SQLITE)
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await?;
    if rows.is_empty() {
        return Ok(rows);
    }
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let seqs = serde_json::to_string(&seqs).map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(DELIVER_SQLITE)
        .bind(&seqs)
        .execute(&mut **tx)
        .await?;
    sqlx::query(MARK_SENT_SQLITE)
        .bind(now)
        .bind(&seqs)
        .execute(&mut **tx)
        .await?;
    Ok(rows)
}

/// One consumer's end of the bus.
#[derive(Debug)]
pub struct BusConsumer {
    bus: Bus,
    dispatcher: Dispatcher,
}

impl BusConsumer {
    /// Handles up to a batch of pending deliveries in order and acknowledges them; returns how
    /// many. Stops at the first event the consumer's database could not take (it stays
    /// pending, with every later one).
    pub async fn poll_once(&self) -> anyhow::Result<usize> {
        let name = self.dispatcher.name();
        let limit = i64::from(self.dispatcher.settings().batch_size);
        let rows: Vec<EventRow> = match &self.bus.db {
            Database::Sqlite(sqlite) => {
                sqlx::query_as(PENDING_SQLITE)
                    .bind(name)
                    .bind(limit)
                    .fetch_all(&sqlite.reader)
                    .await?
            }
            Database::Postgres(pool) => {
                sqlx::query_as(PENDING_POSTGRES)
                    .bind(name)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
        };
        let (seqs, events): (Vec<i64>, Vec<_>) = rows.into_iter().map(EventRow::into_event).unzip();
        let (delivered, result) = self.dispatcher.deliver_all(&events).await;
        self.acknowledge(&seqs[..delivered]).await?;
        result?;
        Ok(delivered)
    }

    async fn acknowledge(&self, seqs: &[i64]) -> anyhow::Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let name = self.dispatcher.name();
        match &self.bus.db {
            Database::Sqlite(sqlite) => {
                sqlx::query(
                    "DELETE FROM event_deliveries WHERE consumer = ? AND seq IN (SELECT value FROM json_each(?))",
                )
                .bind(name)
                .bind(serde_json::to_string(seqs)?)
                .execute(&sqlite.writer)
                .await?;
            }
            Database::Postgres(pool) => {
                sqlx::query(ACKNOWLEDGE_POSTGRES)
                    .bind(name)
                    .bind(seqs)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// How many deliveries wait for this consumer.
    pub async fn pending(&self) -> anyhow::Result<i64> {
        let name = self.dispatcher.name();
        let count = match &self.bus.db {
            Database::Sqlite(sqlite) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM event_deliveries WHERE consumer = ?")
                    .bind(name)
                    .fetch_one(&sqlite.reader)
                    .await?
            }
            Database::Postgres(pool) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM event_deliveries WHERE consumer = $1")
                    .bind(name)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(count)
    }

    /// Delivers until `shutdown`: woken by the bus when this process publishes, else every
    /// poll interval; runs requested dead-letter retries; keeps the pending gauge fresh.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let poll = self.dispatcher.settings().poll_interval;
        let name = self.dispatcher.name().to_owned();
        let mut last_chores = std::time::Instant::now();
        let mut last_prune = std::time::Instant::now();
        loop {
            // Registered before looking, so a publish during the pass still wakes the wait.
            let notified = self.bus.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = match self.poll_once().await {
                Ok(n) if n > 0 => None,
                Ok(_) => Some(poll),
                Err(err) => {
                    tracing::warn!(consumer = %name, error = format!("{err:#}"), "bus delivery failed; retrying");
                    Some(poll.max(std::time::Duration::from_millis(500)))
                }
            };
            if last_chores.elapsed() >= std::time::Duration::from_secs(1)
                && let Ok(pending) = self.pending().await
            {
                metrics::gauge!("innkeeper_events_consumer_pending", "consumer" => name.clone())
                    .set(pending as f64);
            }
            self.dispatcher
                .chores(&mut last_chores, &mut last_prune)
                .await;
            match wait {
                None if shutdown.is_cancelled() => return Ok(()),
                None => {}
                Some(wait) => {
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = notified => {}
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }
}
