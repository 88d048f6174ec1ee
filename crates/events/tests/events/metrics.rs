//! What operators see: publishes, handler failures and dead letters are counted.

use innkeeper_events::{Bus, Relay, RelaySettings};
use innkeeper_platform::testing::TestDatabase;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

use crate::support::{Recorder, TOPIC, append, noted, prepare, quick};

/// One recorded metric: name, labels, value.
type Recorded = (String, Vec<(String, String)>, DebugValue);

/// The value of counter `name` with label `consumer` or `transport` = `label`.
fn counter(snapshot: &[Recorded], name: &str, label: &str) -> u64 {
    snapshot
        .iter()
        .filter(|(n, labels, _)| n == name && labels.iter().any(|(_, v)| v == label))
        .map(|(_, _, value)| match value {
            DebugValue::Counter(n) => *n,
            _ => 0,
        })
        .sum()
}

// One thread: the recorder is installed for this test's thread only.
#[tokio::test(flavor = "current_thread")]
async fn publishes_failures_and_dead_letters_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);

    let test = TestDatabase::sqlite().await;
    let db = &test.db;
    prepare(db).await;
    let bus = Bus::new(db.clone());
    let consumer = bus
        .subscribe(Recorder::new("counted", TOPIC), db.clone(), quick())
        .await
        .expect("subscribe");
    append(db, &[noted("room-1", 1, true), noted("room-2", 1, false)]).await;
    let relay = Relay::to_bus(bus, RelaySettings::default());
    assert_eq!(relay.relay_once().await.expect("relay"), 2);
    assert_eq!(consumer.poll_once().await.expect("poll"), 2);

    let snapshot: Vec<Recorded> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect();
    assert_eq!(
        counter(&snapshot, "innkeeper_events_published_total", "bus"),
        2
    );
    assert_eq!(
        counter(
            &snapshot,
            "innkeeper_events_handler_failures_total",
            "counted"
        ),
        3
    );
    assert_eq!(
        counter(&snapshot, "innkeeper_events_dead_letters_total", "counted"),
        1
    );
    assert!(
        snapshot.iter().any(
            |(name, labels, _)| name == "innkeeper_events_consumer_lag_seconds"
                && labels.iter().any(|(_, v)| v == "counted")
        ),
        "the handled event's lag is recorded"
    );
}
