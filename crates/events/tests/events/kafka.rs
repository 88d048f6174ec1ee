//! The Kafka transport against a real broker: tansu (`innkeeper_events::testing::Tansu`),
//! started and stopped by the tests; missing, it fails them under `CI=true` and skips them
//! loudly otherwise.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use innkeeper_events::kafka::{KafkaConsumer, KafkaSettings, KafkaTransport, ensure_topics};
use innkeeper_events::testing::Tansu;
use innkeeper_events::{
    DeadLetters, Event, Outbox, Record, Relay, RelaySettings, Transport, TransportError,
};
use innkeeper_platform::db::Database;
use innkeeper_platform::testing::TestDatabase;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Headers as _, Message as _};
use tokio_util::sync::CancellationToken;

use crate::support::{
    Noted, Recorder, append, assert_ordered_per_subject, effects, prepare, quick,
};

fn settings(tansu: &Tansu) -> KafkaSettings {
    KafkaSettings {
        message_timeout: Duration::from_secs(3),
        session_timeout: Duration::from_secs(2),
        extra: vec![("debug".into(), std::env::var("KDEBUG").unwrap_or("".into()))]
            .into_iter()
            .filter(|(_, v): &(String, String)| !v.is_empty())
            .collect(),
        ..KafkaSettings::new(tansu.brokers())
    }
}

fn unique_topic() -> &'static str {
    let name = format!("t{}.events", uuid::Uuid::new_v4().simple());
    Box::leak(name.into_boxed_str())
}

fn event(outbox: &Outbox, subject: &str, n: u32, poison: bool) -> Event {
    outbox.event(subject, &Noted { n, poison }).expect("event")
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A test database: PostgreSQL (the distributed shape) when reachable, else SQLite off CI.
async fn database() -> TestDatabase {
    match TestDatabase::postgres().await {
        Some(db) => db,
        None => TestDatabase::sqlite().await,
    }
}

async fn backlog(db: &Database) -> i64 {
    let sql = "SELECT COUNT(*) FROM event_outbox WHERE published_at IS NULL";
    match db {
        Database::Sqlite(s) => sqlx::query_scalar(sql).fetch_one(&s.reader).await,
        Database::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
    }
    .expect("backlog")
}

/// Publishes through Kafka, then fails the first batch as a relay dying before stamping.
struct CrashOnce {
    inner: KafkaTransport,
    crashed: Mutex<bool>,
}

#[async_trait]
impl Transport for CrashOnce {
    fn name(&self) -> &'static str {
        "kafka"
    }

    async fn publish(&self, records: &[Record]) -> Result<(), TransportError> {
        self.inner.publish(records).await?;
        let mut crashed = self.crashed.lock().expect("lock");
        if !*crashed {
            *crashed = true;
            return Err(TransportError::new(
                "relay died before marking the rows sent",
            ));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_delivers_readable_cloudevents_once_in_order_with_dead_letters() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let test = database().await;
    let db = &test.db;
    prepare(db).await;
    let kafka = settings(&tansu);
    let topic = unique_topic();
    ensure_topics(&kafka, &[topic], 3).await.expect("topic");
    let outbox = Outbox::new("/innkeeper/test", topic);

    let mut first = event(&outbox, "room-1", 1, false);
    first.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
    first.tracestate = Some("innkeeper=1".to_owned());
    let poison = event(&outbox, "room-1", 2, true);
    let events = vec![
        first.clone(),
        poison.clone(),
        event(&outbox, "room-1", 3, false),
        event(&outbox, "room-2", 1, false),
        event(&outbox, "room-2", 2, false),
        event(&outbox, "room-3", 1, false),
    ];
    for e in &events {
        append(db, std::slice::from_ref(e)).await;
    }
    // Every record reaches Kafka twice: the first pass "dies" before stamping the rows.
    let transport = CrashOnce {
        inner: KafkaTransport::new(&kafka).expect("producer"),
        crashed: Mutex::new(false),
    };
    let relay = Relay::new(db.clone(), Arc::new(transport), RelaySettings::default());
    assert!(relay.relay_once().await.is_err());
    assert_eq!(relay.relay_once().await.expect("relay"), events.len());

    // A last event per subject, published after the duplicates: once it is handled, every
    // earlier record of its partition was too.
    let last: Vec<Event> = ["room-1", "room-2", "room-3"]
        .iter()
        .map(|subject| event(&outbox, subject, 99, false))
        .collect();
    append(db, &last).await;
    assert_eq!(relay.relay_once().await.expect("relay"), 3);

    let recorder = Recorder::new(&format!("recorder-{topic}"), topic);
    let consumer =
        KafkaConsumer::new(&kafka, recorder.clone(), db.clone(), quick()).expect("consumer");
    let stop = CancellationToken::new();
    let running = tokio::spawn(consumer.run(stop.clone()));
    let letters = DeadLetters::new(db.clone());
    wait_for("every event handled", Duration::from_secs(60), async || {
        let handled = effects(db).await;
        handled.iter().filter(|(_, _, n)| *n == 99).count() == 3
    })
    .await;
    stop.cancel();
    running.await.expect("join").expect("consumer");

    let effects = effects(db).await;
    assert_eq!(effects.len(), 8, "each event once: {effects:?}");
    assert_ordered_per_subject(&effects);
    let handed = recorder.calls();
    let seen_first = handed.iter().find(|e| e.id == first.id).expect("first");
    assert_eq!(seen_first, &first, "attributes and trace context intact");
    let dead = letters.list(None).await.expect("list");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event.id, poison.id);
    assert_eq!(dead[0].attempts, 3);

    // Any Kafka client sees a readable CloudEvent: key = subject, ce_* headers, JSON value.
    let raw: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", tansu.brokers())
        .set("group.id", format!("raw-{topic}"))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("raw consumer");
    raw.subscribe(&[topic]).expect("subscribe");
    let mut records = Vec::new();
    while records.len() < 2 * events.len() + last.len() {
        let record = tokio::time::timeout(Duration::from_secs(30), raw.recv())
            .await
            .expect("every record, duplicates included")
            .expect("record");
        records.push(record.detach());
    }
    let record = &records[0];
    let headers = record.headers().expect("headers");
    let names: Vec<&str> = headers.iter().map(|h| h.key).collect();
    for name in [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_subject",
        "ce_time",
        "content-type",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let subject = headers
        .iter()
        .find(|h| h.key == "ce_subject")
        .and_then(|h| h.value)
        .expect("subject");
    assert_eq!(record.key(), Some(subject));
    let _: serde_json::Value =
        serde_json::from_slice(record.payload().expect("value")).expect("JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_broker_down_state_keeps_committing_and_the_backlog_drains_after() {
    let Some(mut tansu) = Tansu::start().await else {
        return;
    };
    let test = database().await;
    let db = &test.db;
    prepare(db).await;
    let kafka = settings(&tansu);
    let topic = unique_topic();
    ensure_topics(&kafka, &[topic], 2).await.expect("topic");
    let outbox = Outbox::new("/innkeeper/test", topic);

    let relay = Relay::new(
        db.clone(),
        Arc::new(KafkaTransport::new(&kafka).expect("producer")),
        RelaySettings {
            max_backoff: Duration::from_millis(500),
            ..RelaySettings::default()
        },
    );
    let stop = CancellationToken::new();
    let relaying = tokio::spawn(relay.run(stop.clone()));
    append(db, &[event(&outbox, "room-0", 0, false)]).await;
    wait_for(
        "the first event published",
        Duration::from_secs(30),
        async || backlog(db).await == 0,
    )
    .await;

    tansu.stop();
    for n in 1..=20u32 {
        append(db, &[event(&outbox, &format!("room-{}", n % 4), n, false)]).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        backlog(db).await,
        20,
        "nothing is lost or published while the broker is down"
    );

    tansu.launch().await;
    // Its memory storage started empty: the topic is created again.
    ensure_topics(&kafka, &[topic], 2)
        .await
        .expect("topic again");
    wait_for("the backlog drained", Duration::from_secs(60), async || {
        backlog(db).await == 0
    })
    .await;

    let recorder = Recorder::new(&format!("recorder-{topic}"), topic);
    let consumer =
        KafkaConsumer::new(&kafka, recorder.clone(), db.clone(), quick()).expect("consumer");
    let consuming = tokio::spawn(consumer.run(stop.clone()));
    wait_for("all 20 delivered", Duration::from_secs(60), async || {
        effects(db).await.len() >= 20
    })
    .await;
    stop.cancel();
    relaying.await.expect("join").expect("relay");
    consuming.await.expect("join").expect("consumer");
    let effects = effects(db).await;
    assert_eq!(effects.len(), 20, "{effects:?}");
    assert_ordered_per_subject(&effects);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_consumer_resumes_after_its_last_handled_record() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let test = database().await;
    let db = &test.db;
    prepare(db).await;
    let kafka = settings(&tansu);
    let topic = unique_topic();
    ensure_topics(&kafka, &[topic], 2).await.expect("topic");
    let outbox = Outbox::new("/innkeeper/test", topic);
    let relay = Relay::new(
        db.clone(),
        Arc::new(KafkaTransport::new(&kafka).expect("producer")),
        RelaySettings::default(),
    );
    let name = format!("resuming-{topic}");

    let first: Vec<Event> = (1..=10)
        .map(|n| event(&outbox, &format!("room-{}", n % 3), n, false))
        .collect();
    append(db, &first).await;
    assert_eq!(relay.relay_once().await.expect("relay"), 10);
    let before = Recorder::new(&name, topic);
    let consumer =
        KafkaConsumer::new(&kafka, before.clone(), db.clone(), quick()).expect("consumer");
    let stop = CancellationToken::new();
    let running = tokio::spawn(consumer.run(stop.clone()));
    wait_for("the first ten", Duration::from_secs(60), async || {
        effects(db).await.len() == 10
    })
    .await;
    stop.cancel();
    running.await.expect("join").expect("consumer");

    // The same group, restarted: only what came after its committed offsets.
    let second: Vec<Event> = (11..=15)
        .map(|n| event(&outbox, &format!("room-{}", n % 3), n, false))
        .collect();
    append(db, &second).await;
    assert_eq!(relay.relay_once().await.expect("relay"), 5);
    let after = Recorder::new(&name, topic);
    let consumer =
        KafkaConsumer::new(&kafka, after.clone(), db.clone(), quick()).expect("consumer");
    let stop = CancellationToken::new();
    let running = tokio::spawn(consumer.run(stop.clone()));
    wait_for("the next five", Duration::from_secs(60), async || {
        effects(db).await.len() == 15
    })
    .await;
    stop.cancel();
    running.await.expect("join").expect("consumer");

    let replayed: Vec<u32> = after
        .calls()
        .iter()
        .map(|e| e.decode::<Noted>().expect("payload").n)
        .collect();
    assert!(
        replayed.iter().all(|n| *n > 10),
        "the restarted consumer read only new records: {replayed:?}"
    );
    let effects = effects(db).await;
    assert_eq!(effects.len(), 15);
    assert_ordered_per_subject(&effects);
}
