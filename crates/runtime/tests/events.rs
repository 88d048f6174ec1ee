//! `Node::build` starts the catalog's relay on the configured transport: on the in-process
//! bus (embedded shape) or Kafka (a real tansu broker), a consumer sees the catalog's
//! inventory changes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use innkeeper_catalog::api::{HotelQuery, PlaceHold};
use innkeeper_events::contracts::catalog::{InventoryCause, InventoryChanged, TOPIC};
use innkeeper_events::kafka::{KafkaConsumer, KafkaSettings, ensure_topics};
use innkeeper_events::testing::Tansu;
use innkeeper_events::{Consumer, Event, HandlerError, Tx};
use innkeeper_kernel::{Clock as _, HoldId, Principal, StayDates, SystemClock};
use innkeeper_platform::testing::{TempDir, TestDatabase};
use innkeeper_runtime::{Config, Node, NodeOptions};
use serde_json::json;

#[derive(Default)]
struct Collector {
    seen: Mutex<Vec<InventoryChanged>>,
}

#[async_trait]
impl Consumer for Collector {
    fn name(&self) -> &str {
        "runtime-test"
    }

    fn topics(&self) -> Vec<String> {
        vec![TOPIC.to_owned()]
    }

    async fn handle(&self, _tx: &mut Tx, event: &Event) -> Result<(), HandlerError> {
        self.seen.lock().expect("lock").push(event.decode()?);
        Ok(())
    }
}

/// Seeds the demo through the node's catalog and places one hold; returns its id.
async fn seed_and_hold(node: &Node) -> HoldId {
    let catalog = node.catalog();
    innkeeper_catalog::demo::seed_demo(&catalog, &Principal::DEVELOPMENT, SystemClock.today())
        .await
        .expect("seed");
    let hotel = catalog
        .list_hotels(HotelQuery {
            limit: Some(1),
            ..HotelQuery::default()
        })
        .await
        .expect("hotels")
        .items[0]
        .id;
    let room_type = catalog.get_hotel(hotel).await.expect("hotel").room_types[0].id;
    let check_in = SystemClock.today() + time::Duration::days(20);
    catalog
        .place_hold(PlaceHold {
            hold_id: HoldId::new(),
            room_type_id: room_type,
            stay: StayDates::from_stored(check_in, check_in + time::Duration::days(2))
                .expect("stay"),
            quantity: 1,
            ttl_seconds: 60,
        })
        .await
        .expect("hold")
        .id
}

async fn wait_for_hold_event(collector: &Collector, hold: HoldId) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let placed =
            collector.seen.lock().expect("lock").iter().any(|e| {
                e.cause == InventoryCause::HoldPlaced && e.hold_id == Some(hold.as_uuid())
            });
        if placed {
            return;
        }
        assert!(Instant::now() < deadline, "the hold's event never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn config(dir: &TempDir, more: &[(&'static str, serde_json::Value)]) -> Config {
    let mut overrides = vec![
        ("node.data_dir", json!(dir.path)),
        ("node.listen", json!("127.0.0.1:0")),
        ("node.grpc_listen", json!("")),
    ];
    overrides.extend_from_slice(more);
    Config::load(None, &overrides).expect("config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_node_relays_catalog_events_to_the_in_process_bus() {
    let dir = TempDir::new("runtime_events");
    let config = config(&dir, &[]);
    let node = Node::build(&config, NodeOptions::default())
        .await
        .expect("node");
    let bus = node
        .catalog_bus()
        .expect("the default transport is the bus")
        .clone();
    let collector = Arc::new(Collector::default());
    let db = innkeeper_runtime::connect(&config, &config.catalog_database_url(), 2, "catalog")
        .await
        .expect("catalog database");
    let consumer = bus
        .subscribe(collector.clone(), db, config.events.consumer_settings())
        .await
        .expect("subscribe");
    let stop = tokio_util::sync::CancellationToken::new();
    let consuming = tokio::spawn(consumer.run(stop.clone()));

    let hold = seed_and_hold(&node).await;
    wait_for_hold_event(&collector, hold).await;
    stop.cancel();
    consuming.await.expect("join").expect("consumer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_kafka_publishes_the_catalogs_events() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let dir = TempDir::new("runtime_kafka");
    let config = config(
        &dir,
        &[
            ("events.transport", json!("kafka")),
            ("events.kafka_brokers", json!(tansu.brokers())),
            ("events.kafka_fetch_wait_ms", json!(10)),
        ],
    );
    let node = Node::build(&config, NodeOptions::default())
        .await
        .expect("node");
    assert!(node.catalog_bus().is_none());

    // A consumer in another service, with its own database, reads the catalog's topic.
    let kafka = KafkaSettings {
        session_timeout: Duration::from_secs(2),
        ..config.events.kafka_settings()
    };
    ensure_topics(&kafka, &[TOPIC], 6).await.expect("topic");
    let consumer_db = TestDatabase::sqlite().await;
    innkeeper_events::migrate(&consumer_db.db)
        .await
        .expect("migrate");
    let collector = Arc::new(Collector::default());
    let consumer = KafkaConsumer::new(
        &kafka,
        collector.clone(),
        consumer_db.db.clone(),
        config.events.consumer_settings(),
    )
    .expect("consumer");
    let stop = tokio_util::sync::CancellationToken::new();
    let consuming = tokio::spawn(consumer.run(stop.clone()));

    let hold = seed_and_hold(&node).await;
    wait_for_hold_event(&collector, hold).await;
    stop.cancel();
    consuming.await.expect("join").expect("consumer");
    // Stopped, not dropped: a Kafka consumer dropped after the broker is gone (tansu dies with
    // this test) blocks its thread in librdkafka's close, and the runtime's shutdown with it.
    tokio::time::timeout(Duration::from_secs(60), node.run_until_stopped(async {}))
        .await
        .expect("the node stops within a minute")
        .expect("the node stops cleanly");
}
