//! A recording consumer, a test payload and helpers shared by the scenarios.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use innkeeper_events::{
    Consumer, ConsumerSettings, Event, HandlerError, Outbox, Payload, Tx, migrate,
};
use innkeeper_platform::db::Database;

/// The test payload: the n-th change of its subject, maybe a poison pill.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Noted {
    pub n: u32,
    pub poison: bool,
}

impl Payload for Noted {
    const TYPE: &'static str = "innkeeper.test.noted.v1";
}

pub const TOPIC: &str = "test.events";
pub const OUTBOX: Outbox = Outbox::new("/innkeeper/test", TOPIC);

/// Creates the event tables and the recorder's effect table.
pub async fn prepare(db: &Database) {
    migrate(db).await.expect("migrate");
    let columns = "event_id TEXT NOT NULL, subject TEXT NOT NULL, n BIGINT NOT NULL";
    match db {
        Database::Sqlite(s) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS test_effects (ord INTEGER PRIMARY KEY, {columns})"
        )))
        .execute(&s.writer)
        .await
        .map(drop),
        Database::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS test_effects (ord BIGSERIAL PRIMARY KEY, {columns})"
        )))
        .execute(p)
        .await
        .map(drop),
    }
    .expect("effects table");
}

/// An event about `subject`.
pub fn noted(subject: &str, n: u32, poison: bool) -> Event {
    OUTBOX.event(subject, &Noted { n, poison }).expect("event")
}

/// Appends `events` in one committed transaction.
pub async fn append(db: &Database, events: &[Event]) {
    let mut tx = Tx::begin(db).await.expect("begin");
    for event in events {
        match &mut tx {
            Tx::Sqlite(tx) => Outbox::append(&mut **tx, event).await,
            Tx::Postgres(tx) => Outbox::append(&mut **tx, event).await,
        }
        .expect("append");
    }
    tx.commit().await.expect("commit");
}

/// What the recorder saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every call to `handle`, in order.
    pub calls: Vec<Event>,
}

/// A consumer that writes one effect row per handled event (in the handler's transaction)
/// and remembers every call. Poison events fail until `heal` is called.
pub struct Recorder {
    pub name: String,
    pub topics: Vec<String>,
    pub seen: Mutex<Seen>,
    pub healed: std::sync::atomic::AtomicBool,
}

impl Recorder {
    pub fn new(name: &str, topic: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            topics: vec![topic.to_owned()],
            seen: Mutex::default(),
            healed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn heal(&self) {
        self.healed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn calls(&self) -> Vec<Event> {
        self.seen.lock().expect("lock").calls.clone()
    }
}

#[async_trait]
impl Consumer for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        self.seen.lock().expect("lock").calls.push(event.clone());
        let noted: Noted = event.decode()?;
        if noted.poison && !self.healed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(HandlerError::retry("poisoned"));
        }
        let id = event.id.to_string();
        match tx {
            Tx::Sqlite(tx) => {
                sqlx::query("INSERT INTO test_effects (event_id, subject, n) VALUES (?, ?, ?)")
                    .bind(&id)
                    .bind(&event.subject)
                    .bind(i64::from(noted.n))
                    .execute(&mut **tx)
                    .await?;
            }
            Tx::Postgres(tx) => {
                sqlx::query("INSERT INTO test_effects (event_id, subject, n) VALUES ($1, $2, $3)")
                    .bind(&id)
                    .bind(&event.subject)
                    .bind(i64::from(noted.n))
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Effects committed: (event id, subject, n), in insertion order.
pub async fn effects(db: &Database) -> Vec<(String, String, i64)> {
    let sql = "SELECT event_id, subject, n FROM test_effects ORDER BY ord";
    match db {
        Database::Sqlite(s) => sqlx::query_as(sql).fetch_all(&s.reader).await,
        Database::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .expect("effects")
}

/// Fast retries for tests.
pub fn quick() -> ConsumerSettings {
    ConsumerSettings {
        max_attempts: 3,
        backoff: Duration::from_millis(1),
        poll_interval: Duration::from_millis(5),
        batch_size: 100,
        ..ConsumerSettings::default()
    }
}

/// Asserts that within every subject the effects' `n` only grow.
pub fn assert_ordered_per_subject(effects: &[(String, String, i64)]) {
    let mut last: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for (_, subject, n) in effects {
        if let Some(previous) = last.insert(subject, *n) {
            assert!(previous < *n, "{subject}: {n} after {previous}");
        }
    }
}
