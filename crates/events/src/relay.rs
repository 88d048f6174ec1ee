//! The relay: publishes unsent outbox rows, in order, and stamps them sent.
//!
//! On PostgreSQL each pass runs in one transaction that first takes a transaction-scoped
//! advisory lock: one relay replica publishes at a time (the others stand by and take over
//! within a poll interval when it dies, as its lock dies with its connection), so replicas
//! never publish the same rows in the normal case and one aggregate's events stay in order.
//! SQLite serves one process, which runs one relay. If a relay dies after publishing and
//! before stamping, the next pass publishes those rows again: at least once, never skipped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use innkeeper_platform::db::Database;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::bus::Bus;
use crate::consumer::end;
use crate::envelope::{Event, micros};
use crate::outbox::{self, EventRow, event_columns};

/// One outbox row handed to a transport: its position and its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The row's position in the outbox (increasing in insertion order).
    pub seq: i64,
    /// The event.
    pub event: Event,
}

/// A publishing failure; the relay keeps the rows and tries again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

impl TransportError {
    /// A failure described by `cause`.
    pub fn new(cause: impl std::fmt::Display) -> Self {
        Self(cause.to_string())
    }
}

/// Where a relay publishes: the in-process [`crate::Bus`] or Kafka.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// A short name for logs and metrics (`bus`, `kafka`).
    fn name(&self) -> &'static str;

    /// Publishes `records` (in outbox order) and returns once every one is durably accepted;
    /// an error means any of them may or may not have been published.
    async fn publish(&self, records: &[Record]) -> Result<(), TransportError>;
}

/// How a relay runs.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Most rows one pass publishes.
    pub batch_size: u32,
    /// How long an idle relay waits before looking again (while events flow it looks every
    /// millisecond, for a second after the last one).
    pub poll_interval: Duration,
    /// Published rows are deleted this long after publishing.
    pub retention: Duration,
    /// Longest wait between attempts while publishing fails.
    pub max_backoff: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval: Duration::from_millis(20),
            retention: Duration::from_secs(86_400),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// How often a relay looks for rows within [`BUSY_SPELL`] of publishing some.
const BUSY_POLL: Duration = Duration::from_millis(1);
/// How long a relay keeps polling fast after it last found rows.
const BUSY_SPELL: Duration = Duration::from_secs(1);

/// Any two relays of one PostgreSQL database agree on this advisory lock ("innkrela").
pub(crate) const RELAY_LOCK: i64 = 0x696e_6e6b_7265_6c61;

const UNSENT_SQLITE: &str = concat!(
    "SELECT ",
    event_columns!("o"),
    " FROM event_outbox o WHERE o.published_at IS NULL ORDER BY o.seq LIMIT ?"
);
const UNSENT_POSTGRES: &str = concat!(
    "SELECT ",
    event_columns!("o"),
    " FROM event_outbox o WHERE o.published_at IS NULL ORDER BY o.seq LIMIT $1"
);
const MARK_SENT_SQLITE: &str = "UPDATE event_outbox SET published_at = ? \
     WHERE seq IN (SELECT value FROM json_each(?))";
// The pass's transaction is bookkeeping only: it may commit without waiting for the disk
// (a stamp lost in a crash publishes its event again, at least once).
const MARK_SENT_POSTGRES: &str = concat!(
    "UPDATE event_outbox SET published_at = $1 WHERE seq = ANY($2) AND ",
    innkeeper_platform::commit_without_flush!()
);

/// Where a relay publishes.
#[derive(Clone)]
enum Target {
    /// The in-process bus of the same database: fanned out inside the relay's transaction.
    Bus(Bus),
    /// Any other transport.
    Transport(Arc<dyn Transport>),
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Bus(_) => "bus",
            Target::Transport(transport) => transport.name(),
        }
    }
}

/// Publishes one database's outbox through one transport.
#[derive(Clone)]
pub struct Relay {
    db: Database,
    target: Target,
    settings: RelaySettings,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("backend", &self.db.backend())
            .field("transport", &self.target.name())
            .field("settings", &self.settings)
            .finish()
    }
}

impl Relay {
    /// A relay of the outbox in `db` (migrated with [`crate::migrate`]) to `transport`.
    pub fn new(db: Database, transport: Arc<dyn Transport>, settings: RelaySettings) -> Self {
        Self {
            db,
            target: Target::Transport(transport),
            settings,
        }
    }

    /// A relay of the outbox of `bus`'s database to `bus`: each pass writes the deliveries and
    /// stamps the rows in one transaction, so the in-process bus never sees a row twice.
    pub fn to_bus(bus: Bus, settings: RelaySettings) -> Self {
        Self {
            db: bus.database().clone(),
            target: Target::Bus(bus),
            settings,
        }
    }

    /// One pass: publishes up to a batch of unsent rows and stamps them sent. Returns how many
    /// (0 also when another replica holds the relay lock).
    pub async fn relay_once(&self) -> anyhow::Result<usize> {
        let transport = match &self.target {
            Target::Transport(transport) => transport,
            Target::Bus(bus) => {
                let rows = bus
                    .fan_out(self.settings.batch_size)
                    .await
                    .inspect_err(|_| {
                        metrics::counter!("innkeeper_events_publish_errors_total", "transport" => "bus")
                            .increment(1);
                    })?;
                let records = to_records(rows);
                publish_spans(&records, "bus");
                metrics::counter!("innkeeper_events_published_total", "transport" => "bus")
                    .increment(records.len() as u64);
                return Ok(records.len());
            }
        };
        match &self.db {
            Database::Sqlite(sqlite) => {
                let rows: Vec<EventRow> = sqlx::query_as(UNSENT_SQLITE)
                    .bind(i64::from(self.settings.batch_size))
                    .fetch_all(&sqlite.reader)
                    .await?;
                let records = to_records(rows);
                if records.is_empty() {
                    return Ok(0);
                }
                self.publish(transport.as_ref(), &records).await?;
                sqlx::query(MARK_SENT_SQLITE)
                    .bind(micros(OffsetDateTime::now_utc()))
                    .bind(serde_json::to_string(&seqs(&records))?)
                    .execute(&sqlite.writer)
                    .await?;
                Ok(records.len())
            }
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // Ended at once either way, releasing the relay lock (see `Tx::end`).
                let result = self.pass_postgres(&mut tx, transport.as_ref()).await;
                end(tx, result).await
            }
        }
    }

    /// One pass of [`Relay::run`]. It first looks with one cheap read (an SQLite reader, or
    /// one statement on PostgreSQL), so a look that finds nothing takes no transaction, no
    /// lock and not the SQLite writer: while events flow a relay looks every millisecond, and
    /// a pass to Kafka costs four round trips (begin, the relay lock, the batch, commit)
    /// besides publishing. The bus on PostgreSQL needs no look (see `bus::FAN_OUT_POSTGRES`).
    async fn pass(&self) -> anyhow::Result<usize> {
        // The bus's pass on PostgreSQL is one statement, and one that finds nothing costs what
        // the look does: looking first would only add a round trip to every pass that finds rows.
        let one_statement = matches!(
            (&self.target, &self.db),
            (Target::Bus(_), Database::Postgres(_))
        );
        if !one_statement && !outbox::has_unsent(&self.db).await? {
            return Ok(0);
        }
        self.relay_once().await
    }

    /// The PostgreSQL pass inside `tx`: the relay lock, the batch, publishing, the stamps.
    async fn pass_postgres(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        transport: &dyn Transport,
    ) -> anyhow::Result<usize> {
        if !take_relay_lock(tx).await? {
            return Ok(0);
        }
        let rows: Vec<EventRow> = sqlx::query_as(UNSENT_POSTGRES)
            .bind(i64::from(self.settings.batch_size))
            .fetch_all(&mut **tx)
            .await?;
        let records = to_records(rows);
        if records.is_empty() {
            return Ok(0);
        }
        self.publish(transport, &records).await?;
        sqlx::query(MARK_SENT_POSTGRES)
            .bind(micros(OffsetDateTime::now_utc()))
            .bind(seqs(&records))
            .execute(&mut **tx)
            .await?;
        Ok(records.len())
    }

    /// Publishes a batch inside one `event.publish` span per event, each continuing the trace
    /// of the transaction that wrote it.
    async fn publish(
        &self,
        transport: &dyn Transport,
        records: &[Record],
    ) -> Result<(), TransportError> {
        let name = transport.name();
        let spans = publish_spans(records, name);
        let batch =
            tracing::debug_span!("events.relay_batch", transport = name, rows = records.len());
        let result = transport.publish(records).instrument(batch).await;
        drop(spans);
        match &result {
            Ok(()) => metrics::counter!("innkeeper_events_published_total", "transport" => name)
                .increment(records.len() as u64),
            Err(_) => {
                metrics::counter!("innkeeper_events_publish_errors_total", "transport" => name)
                    .increment(1);
            }
        }
        result
    }

    /// Relays until `shutdown`: immediately again after a full batch, every millisecond for a
    /// second after it found rows or heard of an append in this process, after the poll
    /// interval when idle, with growing backoff while publishing fails (the backlog waits in the
    /// outbox). Refreshes the backlog gauges every second and prunes old published rows.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = self.settings.poll_interval;
        let mut last_gauges = Instant::now() - Duration::from_secs(1);
        let mut last_prune = Instant::now();
        let mut last_rows = Instant::now() - BUSY_SPELL;
        loop {
            let wait = match self.pass().await {
                Ok(n) if n >= self.settings.batch_size as usize => Duration::ZERO,
                Ok(n) => {
                    backoff = self.settings.poll_interval;
                    if n > 0 {
                        last_rows = Instant::now();
                    }
                    // While events flow, look again soon; idle, every poll interval.
                    if last_rows.elapsed() < BUSY_SPELL {
                        BUSY_POLL.min(self.settings.poll_interval)
                    } else {
                        self.settings.poll_interval
                    }
                }
                Err(err) => {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        transport = self.target.name(),
                        "publishing the outbox failed; retrying"
                    );
                    backoff =
                        (backoff * 2).clamp(Duration::from_millis(50), self.settings.max_backoff);
                    backoff
                }
            };
            if last_gauges.elapsed() >= Duration::from_secs(1) {
                last_gauges = Instant::now();
                self.record_backlog().await;
            }
            if last_prune.elapsed() >= Duration::from_secs(60) {
                last_prune = Instant::now();
                if let Err(err) = self.prune().await {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "cannot prune published outbox rows"
                    );
                }
            }
            if wait > Duration::ZERO {
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                    // An append in this process: look every millisecond for a while.
                    () = outbox::written().notified() => last_rows = Instant::now(),
                }
            } else if shutdown.is_cancelled() {
                return Ok(());
            }
        }
    }

    async fn record_backlog(&self) {
        match outbox::backlog(&self.db).await {
            Ok(backlog) => {
                metrics::gauge!("innkeeper_events_outbox_backlog").set(backlog.rows as f64);
                let age = backlog
                    .oldest
                    .map(|t| (OffsetDateTime::now_utc() - t).as_seconds_f64().max(0.0))
                    .unwrap_or(0.0);
                metrics::gauge!("innkeeper_events_outbox_oldest_unsent_seconds").set(age);
            }
            Err(err) => tracing::debug!(error = %err, "cannot read the outbox backlog"),
        }
    }

    /// Deletes rows published longer than the retention ago that no bus consumer still needs,
    /// a thousand at a time until none is left (at most a million per call); returns how many.
    pub async fn prune(&self) -> anyhow::Result<u64> {
        let before = OffsetDateTime::now_utc() - self.settings.retention;
        let mut total = 0;
        for _ in 0..1000 {
            let deleted = outbox::prune(&self.db, before).await?;
            total += deleted;
            if deleted < outbox::PRUNE_BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
        Ok(total)
    }
}

/// Takes the relay lease of a PostgreSQL database for the transaction; false if another
/// relay holds it.
pub(crate) async fn take_relay_lock(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(RELAY_LOCK)
        .fetch_one(&mut **tx)
        .await
}

/// One `event.publish` span per record, parented on the record's trace context; they end when
/// the returned spans are dropped.
fn publish_spans(records: &[Record], transport: &'static str) -> Vec<tracing::Span> {
    records
        .iter()
        .map(|r| {
            let span = tracing::info_span!(
                "event.publish",
                event.id = %r.event.id,
                event.r#type = %r.event.event_type,
                event.subject = %r.event.subject,
                topic = %r.event.topic,
                transport,
            );
            innkeeper_platform::telemetry::continue_trace(&span, &r.event.trace_headers());
            span
        })
        .collect()
}

fn to_records(rows: Vec<EventRow>) -> Vec<Record> {
    rows.into_iter()
        .map(|row| {
            let (seq, event) = row.into_event();
            Record { seq, event }
        })
        .collect()
}

fn seqs(records: &[Record]) -> Vec<i64> {
    records.iter().map(|r| r.seq).collect()
}
