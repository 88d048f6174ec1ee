//! Trace context: an event carries the trace of the request that wrote it, and the consumer's
//! `event.consume` span continues that trace.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use innkeeper_events::{Bus, Consumer, Event, HandlerError, Relay, RelaySettings, Tx};
use innkeeper_platform::testing::TestDatabase;
use opentelemetry::trace::TracerProvider as _;
use tracing::instrument::WithSubscriber as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::{TOPIC, append, noted, prepare, quick};

/// Records the W3C trace context current while it handles an event.
#[derive(Default)]
struct Probe {
    seen: Mutex<Vec<String>>,
}

#[async_trait]
impl Consumer for Probe {
    fn name(&self) -> &str {
        "probe"
    }

    fn topics(&self) -> Vec<String> {
        vec![TOPIC.to_owned()]
    }

    async fn handle(&self, _tx: &mut Tx, _event: &Event) -> Result<(), HandlerError> {
        let mut headers = http::HeaderMap::new();
        innkeeper_platform::telemetry::inject_trace(&mut headers);
        let traceparent = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.seen.lock().expect("lock").push(traceparent);
        Ok(())
    }
}

fn trace_id(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_continues_the_producers_trace() {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    async {
        let test = TestDatabase::sqlite().await;
        let db = &test.db;
        prepare(db).await;
        let request = tracing::info_span!("request");
        let event = request.in_scope(|| noted("room-1", 1, false));
        let produced = event
            .traceparent
            .clone()
            .expect("the event carries the trace");
        append(db, &[event]).await;

        let bus = Bus::new(db.clone());
        let probe = Arc::new(Probe::default());
        let consumer = bus
            .subscribe(probe.clone(), db.clone(), quick())
            .await
            .expect("subscribe");
        let relay = Relay::to_bus(bus, RelaySettings::default());
        // The other tests of this binary run on other threads without a subscriber: one of
        // them may register the relay's or the dispatcher's span callsite while this test's
        // subscriber is being set up and cache "no interest" for it. Recompute the interest
        // now that this subscriber exists (seen once in about ten `cargo test` runs).
        tracing::callsite::rebuild_interest_cache();
        assert_eq!(relay.relay_once().await.expect("relay"), 1);
        assert_eq!(consumer.poll_once().await.expect("poll"), 1);

        let seen = probe.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(trace_id(&seen[0]), trace_id(&produced), "same trace");
        assert_ne!(seen[0], produced, "a span of its own in it");
    }
    .with_subscriber(subscriber)
    .await;
}
