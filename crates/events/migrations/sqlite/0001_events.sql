-- The event backbone's tables, in every service database (see crates/events/src/lib.rs).
-- Times are Unix microseconds (UTC).

-- Events written in the same transaction as the state change they describe; the relay
-- publishes them in `seq` order and stamps `published_at`.
CREATE TABLE event_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    time INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL,
    traceparent TEXT,
    tracestate TEXT,
    published_at INTEGER
);
CREATE INDEX event_outbox_unsent ON event_outbox (seq) WHERE published_at IS NULL;
CREATE INDEX event_outbox_published ON event_outbox (published_at) WHERE published_at IS NOT NULL;

-- In-process bus: the consumers of this database's topics, and what each has yet to handle.
CREATE TABLE event_subscriptions (
    consumer TEXT NOT NULL,
    topic TEXT NOT NULL,
    PRIMARY KEY (consumer, topic)
);
CREATE TABLE event_deliveries (
    consumer TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (consumer, seq)
);
CREATE INDEX event_deliveries_seq ON event_deliveries (seq);

-- Consumer side: events a consumer has handled (its effects committed with this row) ...
CREATE TABLE event_inbox (
    consumer TEXT NOT NULL,
    event_id BLOB NOT NULL,
    handled_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- ... and events it gave up on, with the last error. `retry_requested` asks the consumer to
-- try again (`innkeeper events dead-letters retry`).
CREATE TABLE event_dead_letters (
    id BLOB PRIMARY KEY,
    consumer TEXT NOT NULL,
    event_id BLOB NOT NULL,
    topic TEXT NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    time INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL,
    traceparent TEXT,
    tracestate TEXT,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    failed_at INTEGER NOT NULL,
    retry_requested INTEGER NOT NULL DEFAULT 0,
    UNIQUE (consumer, event_id)
);
