//! The outbox, the relay and the in-process bus, on SQLite and PostgreSQL.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use innkeeper_events::{
    Bus, DeadLetters, Delivery, Dispatcher, Outbox, Record, Relay, RelaySettings, Transport,
    TransportError, Tx,
};
use innkeeper_platform::db::Database;
use innkeeper_platform::testing::TestDatabase;

use crate::support::{
    Recorder, TOPIC, append, assert_ordered_per_subject, effects, noted, prepare, quick,
};

fn relay(db: &Database, transport: Arc<dyn Transport>) -> Relay {
    Relay::new(db.clone(), transport, RelaySettings::default())
}

/// Relays and delivers until both are idle.
async fn drain(relay: &Relay, consumer: &innkeeper_events::BusConsumer) {
    loop {
        let relayed = relay.relay_once().await.expect("relay");
        let handled = consumer.poll_once().await.expect("poll");
        if relayed == 0 && handled == 0 {
            return;
        }
    }
}

async fn round_trip_keeps_every_attribute(db: &Database) {
    prepare(db).await;
    let bus = Bus::new(db.clone());
    let recorder = Recorder::new("recorder", TOPIC);
    let consumer = bus
        .subscribe(recorder.clone(), db.clone(), quick())
        .await
        .expect("subscribe");
    let mut event = noted("room-1", 1, false);
    event.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
    event.tracestate = Some("innkeeper=1".to_owned());
    let event = event.at(time::macros::datetime!(2026-11-30 12:00:00.123456 UTC));
    append(db, std::slice::from_ref(&event)).await;

    drain(
        &Relay::to_bus(bus.clone(), RelaySettings::default()),
        &consumer,
    )
    .await;
    assert_eq!(recorder.calls(), vec![event.clone()]);
    assert_eq!(effects(db).await.len(), 1);
    assert_eq!(consumer.pending().await.expect("pending"), 0);
}

async fn a_rolled_back_transaction_publishes_nothing(db: &Database) {
    prepare(db).await;
    let bus = Bus::new(db.clone());
    let recorder = Recorder::new("recorder", TOPIC);
    let consumer = bus
        .subscribe(recorder.clone(), db.clone(), quick())
        .await
        .expect("subscribe");
    let mut tx = Tx::begin(db).await.expect("begin");
    let event = noted("room-1", 1, false);
    match &mut tx {
        Tx::Sqlite(tx) => Outbox::append(&mut **tx, &event).await,
        Tx::Postgres(tx) => Outbox::append(&mut **tx, &event).await,
    }
    .expect("append");
    tx.rollback().await.expect("rollback");

    let relay = Relay::to_bus(bus.clone(), RelaySettings::default());
    assert_eq!(relay.relay_once().await.expect("relay"), 0);
    drain(&relay, &consumer).await;
    assert!(recorder.calls().is_empty());
}

async fn a_duplicate_delivery_has_one_effect(db: &Database) {
    prepare(db).await;
    let recorder = Recorder::new("recorder", TOPIC);
    let dispatcher = Dispatcher::new(recorder.clone(), db.clone(), quick());
    let event = noted("room-1", 1, false);
    assert_eq!(
        dispatcher.deliver(&event).await.expect("first"),
        Delivery::Handled
    );
    assert_eq!(
        dispatcher.deliver(&event).await.expect("again"),
        Delivery::Duplicate
    );
    assert_eq!(effects(db).await.len(), 1);
    // Another consumer is another inbox key: it handles the same event once too.
    let other = Dispatcher::new(Recorder::new("other", TOPIC), db.clone(), quick());
    assert_eq!(
        other.deliver(&event).await.expect("other"),
        Delivery::Handled
    );
    assert_eq!(effects(db).await.len(), 2);
}

/// Handles only the events of one subject and says so through `wants`.
struct Picky {
    recorder: Arc<Recorder>,
    subject: &'static str,
}

#[async_trait]
impl innkeeper_events::Consumer for Picky {
    fn name(&self) -> &str {
        self.recorder.name()
    }
    fn topics(&self) -> Vec<String> {
        self.recorder.topics()
    }
    fn wants(&self, event: &innkeeper_events::Event) -> bool {
        event.subject == self.subject
    }
    async fn handle(
        &self,
        tx: &mut Tx,
        event: &innkeeper_events::Event,
    ) -> Result<(), innkeeper_events::HandlerError> {
        assert_eq!(
            event.subject, self.subject,
            "only wanted events are handled"
        );
        self.recorder.handle(tx, event).await
    }
}

async fn inbox_rows(db: &Database) -> i64 {
    let sql = "SELECT COUNT(*) FROM event_inbox";
    match db {
        Database::Sqlite(s) => sqlx::query_scalar(sql).fetch_one(&s.reader).await,
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect("count")
}

async fn events_a_consumer_does_not_want_cost_no_inbox_row(db: &Database) {
    prepare(db).await;
    let picky = Arc::new(Picky {
        recorder: Recorder::new("picky", TOPIC),
        subject: "room-1",
    });
    let dispatcher = Dispatcher::new(picky.clone(), db.clone(), quick());
    let events = [
        noted("room-2", 1, false),
        noted("room-1", 1, false),
        noted("room-2", 2, false),
        noted("room-1", 2, false),
        noted("room-3", 1, false),
    ];
    let (done, result) = dispatcher.deliver_all(&events).await;
    result.expect("delivered");
    assert_eq!(done, events.len(), "every event is acknowledged");
    assert_eq!(picky.recorder.calls().len(), 2, "only room-1's are handled");
    assert_eq!(effects(db).await.len(), 2);
    assert_eq!(inbox_rows(db).await, 2, "ignored events leave no inbox row");
    assert_eq!(
        dispatcher.deliver(&events[0]).await.expect("one"),
        Delivery::Ignored
    );
    assert_eq!(
        dispatcher.deliver(&events[1]).await.expect("again"),
        Delivery::Duplicate
    );
    assert_eq!(inbox_rows(db).await, 2);
}

async fn aggregates_interleaved_and_repeated_have_one_effect_each(db: &Database) {
    prepare(db).await;
    let recorder = Recorder::new("recorder", TOPIC);
    let dispatcher = Dispatcher::new(recorder, db.clone(), quick());
    let one: Vec<_> = (1..=3).map(|n| noted("room-1", n, false)).collect();
    let two: Vec<_> = (1..=3).map(|n| noted("room-2", n, false)).collect();
    // As Kafka partitions interleave aggregates, and a crash replays some of them.
    let arrival = [
        two[0].clone(),
        one[0].clone(),
        two[1].clone(),
        two[2].clone(),
        one[1].clone(),
        two[0].clone(),
        one[0].clone(),
        one[2].clone(),
    ];
    let (delivered, result) = dispatcher.deliver_all(&arrival).await;
    result.expect("delivered");
    assert_eq!(delivered, arrival.len());
    let effects = effects(db).await;
    assert_eq!(effects.len(), 6, "one effect per event: {effects:?}");
    assert_ordered_per_subject(&effects);
}

async fn inbox_rows_are_kept_for_the_retention_then_pruned(db: &Database) {
    prepare(db).await;
    let recorder = Recorder::new("recorder", TOPIC);
    let keeping = Dispatcher::new(recorder.clone(), db.clone(), quick());
    let event = noted("room-1", 1, false);
    assert_eq!(
        keeping.deliver(&event).await.expect("deliver"),
        Delivery::Handled
    );
    assert_eq!(
        keeping.prune_inbox().await.expect("prune"),
        0,
        "within the retention"
    );
    let forgetting = Dispatcher::new(
        recorder,
        db.clone(),
        innkeeper_events::ConsumerSettings {
            inbox_retention: std::time::Duration::ZERO,
            ..quick()
        },
    );
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    assert_eq!(forgetting.prune_inbox().await.expect("prune"), 1);
}

async fn published_rows_are_pruned_once_no_consumer_needs_them(db: &Database) {
    prepare(db).await;
    let bus = Bus::new(db.clone());
    let consumer = bus
        .subscribe(Recorder::new("recorder", TOPIC), db.clone(), quick())
        .await
        .expect("subscribe");
    append(db, &[noted("room-1", 1, false), noted("room-2", 1, false)]).await;
    let relay = Relay::to_bus(
        bus,
        RelaySettings {
            retention: std::time::Duration::ZERO,
            ..RelaySettings::default()
        },
    );
    assert_eq!(relay.relay_once().await.expect("relay"), 2);
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    assert_eq!(
        relay.prune().await.expect("prune"),
        0,
        "still to be delivered"
    );
    assert_eq!(consumer.poll_once().await.expect("poll"), 2);
    assert_eq!(relay.prune().await.expect("prune"), 2);
    append(db, &[noted("room-1", 2, false)]).await;
    assert_eq!(relay.prune().await.expect("prune"), 0, "unsent rows stay");
    assert_eq!(relay.relay_once().await.expect("relay"), 1);
}

async fn order_within_an_aggregate_is_kept(db: &Database) {
    prepare(db).await;
    let bus = Bus::new(db.clone());
    let recorder = Recorder::new("recorder", TOPIC);
    let consumer = bus
        .subscribe(recorder.clone(), db.clone(), quick())
        .await
        .expect("subscribe");
    // Five aggregates, interleaved, one transaction per change; small relay batches.
    for n in 1..=40u32 {
        append(db, &[noted(&format!("room-{}", n % 5), n, false)]).await;
    }
    let relay = Relay::to_bus(
        bus.clone(),
        RelaySettings {
            batch_size: 7,
            ..RelaySettings::default()
        },
    );
    drain(&relay, &consumer).await;
    let effects = effects(db).await;
    assert_eq!(effects.len(), 40);
    assert_ordered_per_subject(&effects);
}

async fn a_poison_event_is_dead_lettered_and_the_rest_flows(db: &Database) {
    prepare(db).await;
    let bus = Bus::new(db.clone());
    let recorder = Recorder::new("recorder", TOPIC);
    let consumer = bus
        .subscribe(recorder.clone(), db.clone(), quick())
        .await
        .expect("subscribe");
    let poison = noted("room-1", 1, true);
    // The poison sits mid-batch: what came before commits, what follows still flows, in order.
    append(
        db,
        &[
            noted("room-1", 0, false),
            poison.clone(),
            noted("room-1", 2, false),
            noted("room-2", 1, false),
        ],
    )
    .await;
    drain(
        &Relay::to_bus(bus.clone(), RelaySettings::default()),
        &consumer,
    )
    .await;

    let attempts = recorder
        .calls()
        .iter()
        .filter(|e| e.id == poison.id)
        .count();
    assert_eq!(attempts, 3, "max_attempts tries");
    let flowed = effects(db).await;
    assert_eq!(flowed.len(), 3, "the next events flowed");
    assert_ordered_per_subject(&flowed);
    let letters = DeadLetters::new(db.clone());
    let listed = letters.list(Some("recorder")).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].event, poison);
    assert_eq!(listed[0].attempts, 3);
    assert!(listed[0].error.contains("poisoned"), "{}", listed[0].error);

    // Redelivery of a dead-lettered event is a duplicate, not a second dead letter.
    let dispatcher = Dispatcher::new(recorder.clone(), db.clone(), quick());
    assert_eq!(
        dispatcher.deliver(&poison).await.expect("again"),
        Delivery::Duplicate
    );

    // Fixed, then retried on request: handled once, letter gone.
    recorder.heal();
    assert!(letters.retry(listed[0].id).await.expect("retry"));
    assert_eq!(dispatcher.retry_requested().await.expect("run retries"), 1);
    assert_eq!(effects(db).await.len(), 4);
    assert!(letters.list(None).await.expect("list").is_empty());
    assert!(!letters.discard(listed[0].id).await.expect("discard gone"));
}

async fn dead_letters_can_be_discarded(db: &Database) {
    prepare(db).await;
    let recorder = Recorder::new("recorder", TOPIC);
    let dispatcher = Dispatcher::new(recorder, db.clone(), quick());
    let poison = noted("room-1", 1, true);
    assert_eq!(
        dispatcher.deliver(&poison).await.expect("deliver"),
        Delivery::DeadLettered
    );
    let letters = DeadLetters::new(db.clone());
    let id = letters.list(None).await.expect("list")[0].id;
    assert!(letters.discard(id).await.expect("discard"));
    assert!(letters.list(None).await.expect("list").is_empty());
    assert_eq!(
        dispatcher.deliver(&poison).await.expect("again"),
        Delivery::Duplicate
    );
}

/// Publishes through the inner transport, then fails the first `crashes` batches, as a relay
/// that dies between publishing and stamping the rows sent.
struct CrashAfterPublish {
    inner: Arc<dyn Transport>,
    crashes: Mutex<u32>,
}

#[async_trait]
impl Transport for CrashAfterPublish {
    fn name(&self) -> &'static str {
        "crashing"
    }

    async fn publish(&self, records: &[Record]) -> Result<(), TransportError> {
        self.inner.publish(records).await?;
        let mut crashes = self.crashes.lock().expect("lock");
        if *crashes > 0 {
            *crashes -= 1;
            return Err(TransportError::new(
                "relay died before marking the rows sent",
            ));
        }
        Ok(())
    }
}

async fn a_relay_crash_redelivers_and_the_effect_happens_once(db: &Database) {
    prepare(db).await;
    let bus = Bus::new(db.clone());
    let recorder = Recorder::new("recorder", TOPIC);
    let consumer = bus
        .subscribe(recorder.clone(), db.clone(), quick())
        .await
        .expect("subscribe");
    let event = noted("room-1", 1, false);
    append(db, std::slice::from_ref(&event)).await;
    let crashing = relay(
        db,
        Arc::new(CrashAfterPublish {
            inner: Arc::new(bus.clone()),
            crashes: Mutex::new(1),
        }),
    );
    assert!(crashing.relay_once().await.is_err(), "crashed");
    assert_eq!(
        consumer.poll_once().await.expect("poll"),
        1,
        "published before the crash"
    );
    // Another relay (a replica taking over: the failed pass gave the lock back at once)
    // publishes the row again: delivered again, absorbed by the inbox.
    let standby = relay(db, Arc::new(bus.clone()));
    assert_eq!(standby.relay_once().await.expect("relay again"), 1);
    assert_eq!(
        consumer.poll_once().await.expect("poll"),
        1,
        "delivered again"
    );
    assert_eq!(
        recorder.calls().len(),
        1,
        "the inbox stopped the repeat before the handler"
    );
    assert_eq!(effects(db).await.len(), 1, "one effect");
    assert_eq!(crashing.relay_once().await.expect("idle"), 0);
}

async fn a_restarted_consumer_gets_what_it_had_not_acknowledged(db: &Database) {
    prepare(db).await;
    let bus = Bus::new(db.clone());
    let first = Recorder::new("recorder", TOPIC);
    let consumer = bus
        .subscribe(first.clone(), db.clone(), quick())
        .await
        .expect("subscribe");
    append(db, &[noted("room-1", 1, false), noted("room-2", 1, false)]).await;
    // Through the plain Transport path this time (the bus as any transport).
    relay(db, Arc::new(bus.clone()))
        .relay_once()
        .await
        .expect("relay");
    drop(consumer); // the process stops before delivering

    let restarted = Bus::new(db.clone());
    let again = Recorder::new("recorder", TOPIC);
    let consumer = restarted
        .subscribe(again.clone(), db.clone(), quick())
        .await
        .expect("subscribe");
    assert_eq!(consumer.poll_once().await.expect("poll"), 2);
    assert!(first.calls().is_empty());
    assert_eq!(effects(db).await.len(), 2);
}

/// The usual embedded layout: the consumer (say booking) keeps its inbox and effects in its
/// own database, apart from the producer's outbox; PostgreSQL producer, SQLite consumer here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_keeps_its_inbox_and_effects_in_its_own_database() {
    let Some(producer) = TestDatabase::postgres().await else {
        return;
    };
    let consumer_db = TestDatabase::sqlite().await;
    prepare(&producer.db).await;
    prepare(&consumer_db.db).await;
    let bus = Bus::new(producer.db.clone());
    let recorder = Recorder::new("booking", TOPIC);
    let consumer = bus
        .subscribe(recorder.clone(), consumer_db.db.clone(), quick())
        .await
        .expect("subscribe");
    append(&producer.db, &[noted("room-1", 1, false)]).await;
    drain(&Relay::to_bus(bus, RelaySettings::default()), &consumer).await;
    assert_eq!(effects(&consumer_db.db).await.len(), 1);
    assert!(effects(&producer.db).await.is_empty());
    let dispatcher = Dispatcher::new(recorder, consumer_db.db.clone(), quick());
    let event = recorder_event(&consumer_db.db).await;
    assert_eq!(
        dispatcher.deliver(&event).await.expect("again"),
        Delivery::Duplicate,
        "the inbox row is in the consumer's database"
    );
}

/// The event behind the first effect, rebuilt enough to deliver it again.
async fn recorder_event(db: &Database) -> innkeeper_events::Event {
    let (id, _, _) = effects(db).await.remove(0);
    let mut event = noted("room-1", 1, false);
    event.id = id.parse().expect("uuid");
    event
}

/// Remembers every published record.
#[derive(Default)]
struct Counting {
    published: Mutex<Vec<Record>>,
}

#[async_trait]
impl Transport for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    async fn publish(&self, records: &[Record]) -> Result<(), TransportError> {
        // A little latency, so the two relays really overlap.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        self.published
            .lock()
            .expect("lock")
            .extend_from_slice(records);
        Ok(())
    }
}

async fn an_append_wakes_an_idle_relay_at_once(db: &Database) {
    prepare(db).await;
    let counting = Arc::new(Counting::default());
    // An idle relay would look again only after ten seconds.
    let settings = RelaySettings {
        poll_interval: std::time::Duration::from_secs(10),
        ..RelaySettings::default()
    };
    let relay = Relay::new(db.clone(), counting.clone(), settings);
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(relay.run(stop.clone()));
    // Let it make its first pass and go idle.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    append(db, &[noted("room-1", 1, false)]).await;
    while counting.published.lock().expect("lock").is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the idle relay did not hear of the append"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    stop.cancel();
    running.await.expect("join").expect("relay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_relays_do_not_publish_a_row_twice() {
    let Some(test) = TestDatabase::postgres().await else {
        return;
    };
    let db = &test.db;
    prepare(db).await;
    let counting = Arc::new(Counting::default());
    let settings = RelaySettings {
        batch_size: 25,
        ..RelaySettings::default()
    };
    let relays: Vec<Relay> = (0..2)
        .map(|_| Relay::new(db.clone(), counting.clone(), settings.clone()))
        .collect();
    let writer = {
        let db = db.clone();
        tokio::spawn(async move {
            for n in 1..=1000u32 {
                append(&db, &[noted(&format!("room-{}", n % 10), n, false)]).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for relay in relays {
        let counting = counting.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let n = relay.relay_once().await.expect("relay");
                if n == 0 && counting.published.lock().expect("lock").len() >= 1000 {
                    return;
                }
                if n == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            }
        }));
    }
    writer.await.expect("writer");
    for task in tasks {
        tokio::time::timeout(std::time::Duration::from_secs(60), task)
            .await
            .expect("relays finish")
            .expect("relay task");
    }
    let published = counting.published.lock().expect("lock").clone();
    let distinct: HashSet<i64> = published.iter().map(|r| r.seq).collect();
    assert_eq!(published.len(), 1000, "no row published twice");
    assert_eq!(distinct.len(), 1000);
    let order: Vec<(String, String, i64)> = published
        .iter()
        .map(|r| {
            let noted: crate::support::Noted = r.event.decode().expect("payload");
            (
                r.event.id.to_string(),
                r.event.subject.clone(),
                i64::from(noted.n),
            )
        })
        .collect();
    assert_ordered_per_subject(&order);
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let test = innkeeper_platform::testing::TestDatabase::sqlite().await;
                    super::$scenario(&test.db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(test) = innkeeper_platform::testing::TestDatabase::postgres().await else {
                        return;
                    };
                    super::$scenario(&test.db).await;
                }
            )*
        }
    };
}

on_both_backends!(
    round_trip_keeps_every_attribute,
    a_rolled_back_transaction_publishes_nothing,
    a_duplicate_delivery_has_one_effect,
    events_a_consumer_does_not_want_cost_no_inbox_row,
    aggregates_interleaved_and_repeated_have_one_effect_each,
    inbox_rows_are_kept_for_the_retention_then_pruned,
    published_rows_are_pruned_once_no_consumer_needs_them,
    order_within_an_aggregate_is_kept,
    a_poison_event_is_dead_lettered_and_the_rest_flows,
    dead_letters_can_be_discarded,
    a_relay_crash_redelivers_and_the_effect_happens_once,
    a_restarted_consumer_gets_what_it_had_not_acknowledged,
    an_append_wakes_an_idle_relay_at_once,
);
