//! The Kafka transport (distributed shape), with rdkafka.
//!
//! Producing: an idempotent producer (`enable.idempotence`: retries never duplicate or
//! reorder within a partition), the subject as the key (one aggregate, one partition, in
//! order), CloudEvents binary mode headers ([`crate::headers_of`]). A batch is acknowledged
//! when every record of it is.
//!
//! Consuming: one consumer group per [`Consumer`] (its name). Offsets are stored only after
//! the [`Dispatcher`] has committed the handler's effects (or dead-lettered the event), and
//! auto-commit sends only stored offsets: a crash replays from the last handled record, and
//! the inbox absorbs the repeats.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt as _;
use futures::future::join_all;
use innkeeper_platform::db::Database;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

use crate::binding::{event_from_headers, headers_of};
use crate::consumer::{Consumer, ConsumerSettings};
use crate::dispatcher::Dispatcher;
use crate::envelope::Event;
use crate::relay::{Record, Transport, TransportError};

/// How to reach the brokers.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// How long a record may wait for acknowledgement before its batch fails (the relay then
    /// keeps it in the outbox and retries).
    pub message_timeout: Duration,
    /// Consumer group session timeout (the group rebalances after this much silence).
    pub session_timeout: Duration,
    /// Longest a consumer's fetch waits for records (`fetch.wait.max.ms`). Kafka answers as
    /// soon as records arrive; tansu waits the whole time, so this bounds its latency.
    pub fetch_wait: Duration,
    /// Further librdkafka properties, applied last.
    pub extra: Vec<(String, String)>,
}

impl KafkaSettings {
    /// Settings for `brokers` with the defaults.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            message_timeout: Duration::from_secs(10),
            session_timeout: Duration::from_secs(10),
            fetch_wait: Duration::from_millis(100),
            extra: Vec::new(),
        }
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }
}

/// Publishes outbox records to Kafka.
///
/// After a failed batch it starts over with a new producer (a new producer id): an idempotent
/// producer whose broker lost its state (tansu's memory storage after a restart) or fenced it
/// otherwise can stay stuck, timing out every record; the relay republishes the batch anyway.
pub struct KafkaTransport {
    config: ClientConfig,
    producer: std::sync::Mutex<FutureProducer>,
}

impl std::fmt::Debug for KafkaTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTransport").finish_non_exhaustive()
    }
}

impl KafkaTransport {
    /// An idempotent producer (it connects lazily: building succeeds with the brokers down).
    pub fn new(settings: &KafkaSettings) -> anyhow::Result<Self> {
        let mut config = settings.client_config();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set(
                "message.timeout.ms",
                settings.message_timeout.as_millis().to_string(),
            );
        // The caller's properties win over ours.
        for (key, value) in &settings.extra {
            config.set(key, value);
        }
        Ok(Self {
            producer: std::sync::Mutex::new(config.create()?),
            config,
        })
    }

    fn producer(&self) -> FutureProducer {
        self.producer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the producer after a failure; the old one is dropped off the async threads
    /// (dropping purges its queue and waits briefly for the purge to be reported).
    fn renew_producer(&self, failed: FutureProducer) {
        match self.config.create::<FutureProducer>() {
            Ok(fresh) => {
                let old = std::mem::replace(
                    &mut *self
                        .producer
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                    fresh,
                );
                tokio::task::spawn_blocking(move || drop((old, failed)));
            }
            Err(err) => tracing::warn!(error = %err, "cannot create a new Kafka producer"),
        }
    }
}

#[async_trait]
impl Transport for KafkaTransport {
    fn name(&self) -> &'static str {
        "kafka"
    }

    async fn publish(&self, records: &[Record]) -> Result<(), TransportError> {
        let producer = self.producer();
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
            let event = &record.event;
            let mut headers = OwnedHeaders::new_with_capacity(9);
            for (key, value) in headers_of(event) {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
            let message = FutureRecord::to(&event.topic)
                .key(event.subject.as_bytes())
                .payload(&event.data)
                .headers(headers);
            // Waits (without blocking a thread) while the local queue is full.
            pending.push(producer.send(message, Duration::from_secs(5)));
        }
        let failure = join_all(pending)
            .await
            .into_iter()
            .find_map(|outcome| outcome.err().map(|(err, _)| err));
        match failure {
            None => Ok(()),
            Some(err) => {
                self.renew_producer(producer);
                Err(TransportError::new(format!("kafka: {err}")))
            }
        }
    }
}

/// Creates `topics` with `partitions` partitions each if they do not exist.
pub async fn ensure_topics(
    settings: &KafkaSettings,
    topics: &[&str],
    partitions: i32,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = settings.client_config().create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("cannot create topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// One consumer reading its topics from Kafka in its own consumer group.
pub struct KafkaConsumer {
    consumer: StreamConsumer,
    dispatcher: Dispatcher,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("dispatcher", &self.dispatcher)
            .finish_non_exhaustive()
    }
}

impl KafkaConsumer {
    /// Joins the group named after `consumer` and subscribes to its topics; its inbox and
    /// dead letters live in `consumer_db`. A new group starts at the earliest offset.
    pub fn new(
        kafka: &KafkaSettings,
        consumer: Arc<dyn Consumer>,
        consumer_db: Database,
        settings: ConsumerSettings,
    ) -> anyhow::Result<Self> {
        let session = kafka.session_timeout.as_millis().max(1000);
        let mut config = kafka.client_config();
        config
            .set("group.id", consumer.name())
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.commit.interval.ms", "500")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", session.to_string())
            .set("heartbeat.interval.ms", (session / 4).to_string())
            .set(
                "fetch.wait.max.ms",
                kafka.fetch_wait.as_millis().max(1).to_string(),
            );
        for (key, value) in &kafka.extra {
            config.set(key, value);
        }
        let stream: StreamConsumer = config.create()?;
        let topics = consumer.topics();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        stream.subscribe(&topics)?;
        Ok(Self {
            consumer: stream,
            dispatcher: Dispatcher::new(consumer, consumer_db, settings),
        })
    }

    /// Delivers until `shutdown`, then commits the stored offsets. A record is acknowledged
    /// (its offset stored) only once handled, duplicate or dead-lettered; when the consumer's
    /// database fails, the record is delivered again after a pause.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let name = self.dispatcher.name().to_owned();
        let mut last_chores = std::time::Instant::now();
        let mut last_prune = std::time::Instant::now();
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(Duration::from_secs(1)) => None,
                message = self.consumer.recv() => Some(message),
            };
            self.dispatcher
                .chores(&mut last_chores, &mut last_prune)
                .await;
            let first = match message {
                None => continue,
                Some(Ok(message)) => message,
                Some(Err(err)) => {
                    tracing::warn!(consumer = %name, error = %err, "kafka receive failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            // Whatever else has already arrived joins the batch (one transaction per run).
            let mut batch = vec![first];
            let limit = self.dispatcher.settings().batch_size.max(1) as usize;
            while batch.len() < limit {
                match self.consumer.recv().now_or_never() {
                    Some(Ok(message)) => batch.push(message),
                    _ => break,
                }
            }
            let events: Vec<Option<Event>> = batch.iter().map(|m| self.event_of(m)).collect();
            let readable: Vec<Event> = events.iter().flatten().cloned().collect();
            let delivered = self.deliver_until_recorded(&readable, &shutdown).await;
            // Acknowledge every record up to the last delivered event, in order.
            let mut seen = 0;
            for (message, event) in batch.iter().zip(&events) {
                if event.is_some() {
                    if seen >= delivered {
                        break;
                    }
                    seen += 1;
                }
                self.acknowledge(message);
            }
            if delivered < readable.len() {
                break;
            }
        }
        if let Err(err) = self.consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored since the last commit is not a failure.
            if !matches!(err, KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) {
                tracing::warn!(consumer = %name, error = %err, "final offset commit failed");
            }
        }
        Ok(())
    }

    /// Stores the record's offset for the next auto-commit. It fails only when its partition
    /// was just taken away by a rebalance: the new owner redelivers it, and the inbox absorbs it.
    fn acknowledge(&self, message: &BorrowedMessage<'_>) {
        if let Err(err) = self.consumer.store_offset_from_message(message) {
            tracing::debug!(consumer = self.dispatcher.name(), error = %err, "offset not stored");
        }
    }

    /// The event a record carries; a record that is not one of our CloudEvents is logged,
    /// counted and skipped (there is nothing to hand over or to dead-letter by id).
    fn event_of(&self, message: &BorrowedMessage<'_>) -> Option<Event> {
        let headers: Vec<(&str, Option<&[u8]>)> = message
            .headers()
            .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
            .unwrap_or_default();
        match event_from_headers(
            message.topic(),
            headers,
            message.payload().unwrap_or_default(),
        ) {
            Ok(event) => Some(event),
            Err(problem) => {
                let consumer = self.dispatcher.name().to_owned();
                metrics::counter!("innkeeper_events_malformed_records_total", "consumer" => consumer.clone())
                    .increment(1);
                tracing::error!(
                    consumer,
                    topic = message.topic(),
                    partition = message.partition(),
                    offset = message.offset(),
                    problem,
                    "skipping a malformed record"
                );
                None
            }
        }
    }

    /// Delivers `events` until every outcome is recorded in the consumer's database, pausing
    /// while it fails; returns how many are recorded (fewer only on shutdown).
    async fn deliver_until_recorded(
        &self,
        events: &[Event],
        shutdown: &CancellationToken,
    ) -> usize {
        let mut done = 0;
        while done < events.len() {
            let (delivered, result) = self.dispatcher.deliver_all(&events[done..]).await;
            done += delivered;
            if let Err(err) = result {
                tracing::warn!(consumer = self.dispatcher.name(), error = %err, "consumer database failed; delivering again");
                tokio::select! {
                    () = shutdown.cancelled() => return done,
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
        done
    }
}
