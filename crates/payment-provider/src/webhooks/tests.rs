//! The delivery worker against a real HTTP receiver on loopback.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use innkeeper_kernel::SystemClock;
use innkeeper_platform::testing::TestDatabase;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::app::CreateIntent;
use crate::domain::{TestCard, retry_delay};
use crate::module::PaymentProviderModule;
use crate::settings::ProviderSettings;
use crate::store::DeliveryStatus;
use crate::webhook_signature::{self, DEFAULT_TOLERANCE};

/// What the receiver does with its `n`th request (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Accept,
    Fail,
    /// Answers after 2 s (past the attempt's deadline).
    Stall,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    id: String,
    signature_valid: bool,
    body: Value,
}

#[derive(Clone)]
struct Receiver {
    plan: Arc<dyn Fn(usize) -> Act + Send + Sync>,
    got: Arc<Mutex<Vec<Received>>>,
    settings: ProviderSettings,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verified = webhook_signature::verify_headers(
        &receiver.settings.webhooks.secrets,
        &headers,
        &body,
        time::OffsetDateTime::now_utc(),
        DEFAULT_TOLERANCE,
    );
    let n = {
        let mut got = receiver.got.lock().expect("lock");
        got.push(Received {
            at: Instant::now(),
            id: verified.map(str::to_owned).unwrap_or_default(),
            signature_valid: verified.is_ok(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        got.len()
    };
    match (receiver.plan)(n) {
        Act::Accept => StatusCode::NO_CONTENT,
        Act::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        Act::Stall => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            StatusCode::NO_CONTENT
        }
    }
}

/// Settings with fast retries, delivering to `url`.
fn settings(url: &str) -> ProviderSettings {
    let mut settings = crate::http::tests::settings();
    settings.webhooks.url = Some(reqwest::Url::parse(url).expect("url"));
    settings.webhooks.backoff_base = Duration::from_millis(100);
    settings.webhooks.backoff_max = Duration::from_secs(2);
    settings.webhooks.poll_interval = Duration::from_millis(10);
    settings.webhooks.timeout = Duration::from_millis(500);
    settings
}

/// A receiver on a free loopback port: its URL and what it got.
async fn receiver(
    plan: impl Fn(usize) -> Act + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
    let got = Arc::new(Mutex::new(Vec::new()));
    let state = Receiver {
        plan: Arc::new(plan),
        got: got.clone(),
        settings: settings(&url),
    };
    let app = axum::Router::new()
        .route("/webhook", axum::routing::post(receive))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

async fn start(database: &TestDatabase, settings: ProviderSettings) -> PaymentProviderModule {
    PaymentProviderModule::start(&database.db, Arc::new(SystemClock), settings)
        .await
        .expect("start")
}

/// Creates an intent and pays it with a good card: one `payment_intent.succeeded` queued.
async fn paid_intent(module: &PaymentProviderModule) -> String {
    let params = CreateIntent {
        amount: 12_900,
        currency: "eur".into(),
        return_url: "http://shop.test/".into(),
        description: None,
        metadata: BTreeMap::new(),
    };
    let created = module
        .service
        .create_intent(params, None)
        .await
        .expect("create");
    let id = serde_json::from_str::<Value>(&created.body).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    module
        .service
        .pay(&id, TestCard::Visa, None)
        .await
        .expect("pay");
    id
}

fn spawn_worker(
    module: &PaymentProviderModule,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(module.clone().run_webhook_worker(shutdown.clone()));
    (shutdown, task)
}

/// Waits until `done` holds, for at most `limit`.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "not done within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_retries_with_growing_delays_until_it_accepts() {
    let (url, got) = receiver(|n| if n <= 3 { Act::Fail } else { Act::Accept }).await;
    let database = TestDatabase::sqlite().await;
    let module = start(&database, settings(&url)).await;
    let intent_id = paid_intent(&module).await;
    let (shutdown, worker) = spawn_worker(&module);

    eventually(Duration::from_secs(15), || {
        got.lock().expect("lock").len() >= 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    worker.await.expect("join").expect("worker");

    let got = got.lock().expect("lock").clone();
    assert_eq!(
        got.len(),
        4,
        "3 failures, then the delivery, then nothing more"
    );
    assert!(
        got.iter().all(|r| r.signature_valid),
        "every attempt is signed"
    );
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "one webhook-id across retries"
    );
    assert_eq!(got[0].body["type"], "payment_intent.succeeded");
    assert_eq!(got[0].body["data"]["object"]["id"], intent_id.as_str());
    assert!(got.iter().all(|r| r.body == got[0].body));

    let base = Duration::from_millis(100);
    for (retry, pair) in (1u32..).zip(got.windows(2)) {
        let gap = pair[1].at - pair[0].at;
        let shortest = retry_delay(retry, base, Duration::from_secs(2), 0.0);
        let longest = retry_delay(retry, base, Duration::from_secs(2), 1.0);
        assert!(
            gap >= shortest,
            "retry {retry} came after {gap:?}, before {shortest:?}"
        );
        // Generous: these machines are shared, so a late wake-up is no failure.
        assert!(
            gap <= longest + Duration::from_secs(1),
            "retry {retry} came after {gap:?}"
        );
    }

    let store = module.service.store();
    let deliveries = store.deliveries(10).await.expect("deliveries");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        (deliveries[0].status, deliveries[0].attempts),
        (DeliveryStatus::Delivered, 4)
    );
    let attempts = store
        .attempts(&deliveries[0].event_id)
        .await
        .expect("attempts");
    let codes: Vec<_> = attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), Some(500), Some(500), Some(204)]);
    assert!(attempts[..3].iter().all(|a| a.error.is_some()) && attempts[3].error.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_delivery_survives_a_restart() {
    let (url, got) = receiver(|_| Act::Accept).await;
    let database = TestDatabase::sqlite().await;
    let first = start(&database, settings(&url)).await;
    paid_intent(&first).await;
    drop(first); // Stopped before its worker ever ran.

    let restarted = start(&database, settings(&url)).await;
    let (shutdown, worker) = spawn_worker(&restarted);
    eventually(Duration::from_secs(10), || {
        got.lock().expect("lock").len() == 1
    })
    .await;
    let store = restarted.service.store().clone();
    let mut deliveries = Vec::new();
    for _ in 0..200 {
        deliveries = store.deliveries(10).await.expect("deliveries");
        if deliveries[0].status == DeliveryStatus::Delivered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    worker.await.expect("join").expect("worker");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        (deliveries[0].status, deliveries[0].attempts),
        (DeliveryStatus::Delivered, 1)
    );
    assert!(got.lock().expect("lock")[0].signature_valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_past_its_deadline_fails_and_is_retried() {
    let (url, got) = receiver(|n| if n == 1 { Act::Stall } else { Act::Accept }).await;
    let database = TestDatabase::sqlite().await;
    let module = start(&database, settings(&url)).await;
    paid_intent(&module).await;
    let (shutdown, worker) = spawn_worker(&module);
    eventually(Duration::from_secs(10), || {
        got.lock().expect("lock").len() >= 2
    })
    .await;
    let store = module.service.store().clone();
    let event_id = store.deliveries(1).await.expect("deliveries")[0]
        .event_id
        .clone();
    let mut attempts = Vec::new();
    for _ in 0..200 {
        attempts = store.attempts(&event_id).await.expect("attempts");
        if attempts.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    worker.await.expect("join").expect("worker");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].status_code, None);
    assert!(
        attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("no answer within")),
        "{attempts:?}"
    );
    assert!(
        attempts[0].duration_ms < 1500,
        "the deadline cut it short: {attempts:?}"
    );
    assert_eq!(attempts[1].status_code, Some(204));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_given_up_after_its_maximum_age() {
    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/webhook", closed.local_addr().expect("addr"));
    drop(closed);
    let mut settings = settings(&url);
    settings.webhooks.backoff_base = Duration::from_millis(20);
    settings.webhooks.max_age = Duration::from_millis(300);
    let database = TestDatabase::sqlite().await;
    let module = start(&database, settings).await;
    paid_intent(&module).await;
    let (shutdown, worker) = spawn_worker(&module);
    let store = module.service.store().clone();
    let mut deliveries = Vec::new();
    for _ in 0..500 {
        deliveries = store.deliveries(1).await.expect("deliveries");
        if deliveries[0].status == DeliveryStatus::Failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    worker.await.expect("join").expect("worker");
    assert_eq!(deliveries[0].status, DeliveryStatus::Failed);
    let attempts = store
        .attempts(&deliveries[0].event_id)
        .await
        .expect("attempts");
    assert!(attempts.len() >= 2, "{attempts:?}");
    assert!(attempts.iter().all(|a| {
        a.status_code.is_none()
            && a.error
                .as_deref()
                .is_some_and(|e| e.contains("could not reach"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_workers_deliver_each_event_once() {
    two_workers_deliver_each_event_once(TestDatabase::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_workers_deliver_each_event_once() {
    if let Some(database) = TestDatabase::postgres().await {
        two_workers_deliver_each_event_once(database).await;
    }
}

/// Two providers on one database (two replicas) share the queue: leases keep each event to
/// one attempt.
async fn two_workers_deliver_each_event_once(database: TestDatabase) {
    let (url, got) = receiver(|_| Act::Accept).await;
    let first = start(&database, settings(&url)).await;
    let second = start(&database, settings(&url)).await;
    for _ in 0..20 {
        paid_intent(&first).await;
    }
    let workers = [spawn_worker(&first), spawn_worker(&second)];
    eventually(Duration::from_secs(15), || {
        got.lock().expect("lock").len() >= 20
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (shutdown, worker) in workers {
        shutdown.cancel();
        worker.await.expect("join").expect("worker");
    }
    let got = got.lock().expect("lock").clone();
    let mut per_event: BTreeMap<String, usize> = BTreeMap::new();
    for r in &got {
        *per_event.entry(r.id.clone()).or_default() += 1;
    }
    assert_eq!(per_event.len(), 20);
    assert!(per_event.values().all(|n| *n == 1), "{per_event:?}");
}
