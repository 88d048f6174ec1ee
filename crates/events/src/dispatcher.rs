//! The [`Dispatcher`]: delivers events to one consumer at most once in effect. The inbox row
//! (consumer, event id) commits with the handler's effects, so a redelivered event finds it
//! and is skipped; failures are retried with backoff, then dead-lettered.

use std::sync::Arc;
use std::time::Duration;

use innkeeper_platform::db::Database;
use time::OffsetDateTime;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::consumer::{Consumer, ConsumerSettings, Delivery, HandlerError, Tx};
use crate::dead_letters;
use crate::envelope::{Event, micros};

/// What one shared transaction achieved.
struct RunOutcome {
    /// Events at the head of the run whose outcome committed.
    committed: usize,
    /// The handler failure that ended the run (its event is the next one).
    failed: Option<HandlerError>,
}

/// Runs a savepoint statement (`SAVEPOINT`, `RELEASE`, `ROLLBACK TO`) in `tx`.
async fn savepoint(tx: &mut Tx, statement: &'static str) -> Result<(), sqlx::Error> {
    match tx {
        Tx::Sqlite(tx) => sqlx::query(statement).execute(&mut **tx).await.map(drop),
        Tx::Postgres(tx) => sqlx::query(statement).execute(&mut **tx).await.map(drop),
    }
}

/// Delivers events to one consumer: inbox, retries with backoff, dead letters, metrics and
/// the `event.consume` span.
#[derive(Clone)]
pub struct Dispatcher {
    consumer: Arc<dyn Consumer>,
    db: Database,
    settings: ConsumerSettings,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("consumer", &self.consumer.name())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

const INBOX_SQLITE: &str = "INSERT INTO event_inbox (consumer, event_id, handled_at) VALUES (?, ?, ?) \
     ON CONFLICT (consumer, event_id) DO NOTHING";
const INBOX_POSTGRES: &str = "INSERT INTO event_inbox (consumer, event_id, handled_at) VALUES ($1, $2, $3) \
     ON CONFLICT (consumer, event_id) DO NOTHING";

/// Records `event_id` as handled by `consumer` in `tx`; false if it already was.
pub(crate) async fn record_in_inbox(
    tx: &mut Tx,
    consumer: &str,
    event_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let now = micros(OffsetDateTime::now_utc());
    let done = match tx {
        Tx::Sqlite(tx) => sqlx::query(INBOX_SQLITE)
            .bind(consumer)
            .bind(event_id)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        Tx::Postgres(tx) => sqlx::query(INBOX_POSTGRES)
            .bind(consumer)
            .bind(event_id)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    };
    Ok(done == 1)
}

impl Dispatcher {
    /// A dispatcher for `consumer`, whose inbox and dead letters live in `db` (migrated with
    /// [`crate::migrate`]), usually the database of the consumer's own store.
    pub fn new(consumer: Arc<dyn Consumer>, db: Database, settings: ConsumerSettings) -> Self {
        Self {
            consumer,
            db,
            settings,
        }
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        self.consumer.name()
    }

    /// The settings.
    pub fn settings(&self) -> &ConsumerSettings {
        &self.settings
    }

    /// Delivers `event`. An `Err` means the consumer's database failed outside the handler:
    /// nothing was recorded and the caller must not acknowledge the event.
    pub async fn deliver(&self, event: &Event) -> Result<Delivery, sqlx::Error> {
        if !self.consumer.wants(event) {
            return Ok(Delivery::Ignored);
        }
        self.deliver_one(event, None).await
    }

    /// Delivers `events` in order and returns how many of them (a prefix) have their outcome
    /// recorded, with the database error that stopped it, if any: acknowledge that prefix.
    ///
    /// Runs of events share one transaction (one commit instead of one per event), each
    /// event inside a savepoint with its inbox row. At the first handler failure the run
    /// commits what came before, and the failing event takes the one-at-a-time path (retries,
    /// dead letters) before the next run starts, so a subject's events stay in order.
    pub async fn deliver_all(&self, events: &[Event]) -> (usize, Result<(), sqlx::Error>) {
        let mut done = 0;
        while done < events.len() {
            // Events the consumer does not want open no transaction.
            if !self.consumer.wants(&events[done]) {
                done += 1;
                continue;
            }
            match self.deliver_run(&events[done..]).await {
                Ok(RunOutcome { committed, failed }) => {
                    done += committed;
                    if let Some(error) = failed {
                        tracing::warn!(consumer = self.name(), attempt = 1, error = %error, "event handler failed");
                        if let Err(err) = self.deliver_one(&events[done], Some(error)).await {
                            return (done, Err(err));
                        }
                        done += 1;
                    }
                }
                Err(err) => return (done, Err(err)),
            }
        }
        (done, Ok(()))
    }

    /// One transaction over the longest run of `events` whose handlers succeed.
    async fn deliver_run(&self, events: &[Event]) -> Result<RunOutcome, sqlx::Error> {
        let mut tx = Tx::begin(&self.db).await?;
        let mut handled = Vec::new();
        let result = self.run_in(&mut tx, events, &mut handled).await;
        let outcome = tx.end(result).await?;
        for event in handled {
            self.record_lag(event);
        }
        Ok(outcome)
    }

    /// The body of [`Dispatcher::deliver_run`]: each event in a savepoint with its inbox row;
    /// stops at the first handler failure, leaving the transaction as it was before that event.
    async fn run_in<'e>(
        &self,
        tx: &mut Tx,
        events: &'e [Event],
        handled: &mut Vec<&'e Event>,
    ) -> Result<RunOutcome, sqlx::Error> {
        let consumer = self.consumer.name();
        let mut outcome = RunOutcome {
            committed: 0,
            failed: None,
        };
        for event in events {
            if !self.consumer.wants(event) {
                outcome.committed += 1;
                continue;
            }
            savepoint(tx, "SAVEPOINT event").await?;
            if !record_in_inbox(tx, consumer, event.id).await? {
                savepoint(tx, "RELEASE SAVEPOINT event").await?;
                outcome.committed += 1;
                continue;
            }
            match self
                .consumer
                .handle(tx, event)
                .instrument(self.span(event))
                .await
            {
                Ok(()) => {
                    savepoint(tx, "RELEASE SAVEPOINT event").await?;
                    handled.push(event);
                    outcome.committed += 1;
                }
                Err(err) => {
                    savepoint(tx, "ROLLBACK TO SAVEPOINT event").await?;
                    savepoint(tx, "RELEASE SAVEPOINT event").await?;
                    metrics::counter!("innkeeper_events_handler_failures_total", "consumer" => consumer.to_owned())
                        .increment(1);
                    outcome.failed = Some(err);
                    break;
                }
            }
        }
        Ok(outcome)
    }

    fn span(&self, event: &Event) -> tracing::Span {
        let span = tracing::info_span!(
            "event.consume",
            consumer = self.consumer.name(),
            event.id = %event.id,
            event.r#type = %event.event_type,
            event.subject = %event.subject,
            topic = %event.topic,
        );
        innkeeper_platform::telemetry::continue_trace(&span, &event.trace_headers());
        span
    }

    fn record_lag(&self, event: &Event) {
        let lag = (OffsetDateTime::now_utc() - event.time)
            .as_seconds_f64()
            .max(0.0);
        metrics::histogram!("innkeeper_events_consumer_lag_seconds", "consumer" => self.consumer.name().to_owned())
            .record(lag);
    }

    /// One event in its own transactions: attempts with backoff until one succeeds or the
    /// handler rejects it or runs out of attempts, then the dead letters. `prior` is the
    /// failure of an attempt already made (in a shared run).
    async fn deliver_one(
        &self,
        event: &Event,
        prior: Option<HandlerError>,
    ) -> Result<Delivery, sqlx::Error> {
        let span = self.span(event);
        self.deliver_one_traced(event, prior).instrument(span).await
    }

    async fn deliver_one_traced(
        &self,
        event: &Event,
        prior: Option<HandlerError>,
    ) -> Result<Delivery, sqlx::Error> {
        let consumer = self.consumer.name().to_owned();
        let mut attempt = u32::from(prior.is_some());
        let mut last = prior;
        let error = loop {
            if let Some(err) = last.take() {
                if err.is_permanent() || attempt >= self.settings.max_attempts {
                    break err;
                }
                let factor = 2u32.saturating_pow(attempt - 1);
                tokio::time::sleep(self.settings.backoff.saturating_mul(factor)).await;
            }
            attempt += 1;
            let mut tx = Tx::begin(&self.db).await?;
            match record_in_inbox(&mut tx, &consumer, event.id).await {
                Ok(true) => {}
                Ok(false) => {
                    tx.rollback().await?;
                    tracing::debug!("duplicate delivery skipped");
                    return Ok(Delivery::Duplicate);
                }
                Err(err) => return tx.end(Err(err)).await,
            }
            match self.consumer.handle(&mut tx, event).await {
                Ok(()) => {
                    tx.commit().await?;
                    self.record_lag(event);
                    return Ok(Delivery::Handled);
                }
                Err(err) => {
                    let _ = tx.rollback().await;
                    metrics::counter!("innkeeper_events_handler_failures_total", "consumer" => consumer.clone())
                        .increment(1);
                    tracing::warn!(attempt, error = %err, "event handler failed");
                    last = Some(err);
                }
            }
        };
        dead_letters::record(&self.db, &consumer, event, &error.to_string(), attempt).await?;
        metrics::counter!("innkeeper_events_dead_letters_total", "consumer" => consumer)
            .increment(1);
        tracing::error!(attempts = attempt, error = %error, "event moved to the dead letters");
        Ok(Delivery::DeadLettered)
    }

    /// Deletes up to 10,000 of this consumer's inbox rows older than the inbox retention;
    /// returns how many.
    pub async fn prune_inbox(&self) -> Result<u64, sqlx::Error> {
        let before = micros(OffsetDateTime::now_utc() - self.settings.inbox_retention);
        let consumer = self.consumer.name();
        let done = match &self.db {
            Database::Sqlite(sqlite) => sqlx::query(
                "DELETE FROM event_inbox WHERE rowid IN (SELECT rowid FROM event_inbox \
                 WHERE consumer = ? AND handled_at < ? LIMIT 10000)",
            )
            .bind(consumer)
            .bind(before)
            .execute(&sqlite.writer)
            .await?
            .rows_affected(),
            Database::Postgres(pool) => sqlx::query(
                "DELETE FROM event_inbox WHERE ctid IN (SELECT ctid FROM event_inbox \
                 WHERE consumer = $1 AND handled_at < $2 LIMIT 10000)",
            )
            .bind(consumer)
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(done)
    }

    /// Periodic upkeep of a running consumer: requested dead-letter retries every second, inbox
    /// pruning every hour. Failures are logged; the consumer goes on.
    pub(crate) async fn chores(
        &self,
        last: &mut std::time::Instant,
        last_prune: &mut std::time::Instant,
    ) {
        if last.elapsed() < Duration::from_secs(1) {
            return;
        }
        *last = std::time::Instant::now();
        if let Err(err) = self.retry_requested().await {
            tracing::warn!(consumer = self.name(), error = %err, "dead-letter retries failed");
        }
        if last_prune.elapsed() >= Duration::from_secs(3600) {
            *last_prune = std::time::Instant::now();
            // Batches of 10,000 until the backlog of old rows is gone (at most 10 million).
            for _ in 0..1000 {
                match self.prune_inbox().await {
                    Ok(deleted) if deleted >= 10_000 => tokio::task::yield_now().await,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::warn!(consumer = self.name(), error = %err, "inbox pruning failed");
                        break;
                    }
                }
            }
        }
    }

    /// Runs the handler again for the dead letters an operator asked to retry
    /// (`innkeeper events dead-letters retry`); returns how many succeeded.
    pub async fn retry_requested(&self) -> Result<usize, sqlx::Error> {
        let consumer = self.consumer.name();
        let mut succeeded = 0;
        for letter in dead_letters::requested(&self.db, consumer).await? {
            let mut tx = Tx::begin(&self.db).await?;
            match self.consumer.handle(&mut tx, &letter.event).await {
                Ok(()) => {
                    let deleted = dead_letters::delete_in(&mut tx, letter.id).await;
                    tx.end(deleted).await?;
                    succeeded += 1;
                    tracing::info!(consumer, event.id = %letter.event.id, "dead letter handled on retry");
                }
                Err(err) => {
                    let _ = tx.rollback().await;
                    dead_letters::failed_again(&self.db, letter.id, &err.to_string()).await?;
                    tracing::warn!(consumer, event.id = %letter.event.id, error = %err, "dead letter failed again");
                }
            }
        }
        Ok(succeeded)
    }
}
