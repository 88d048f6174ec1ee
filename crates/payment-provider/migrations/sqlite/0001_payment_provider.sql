-- The payment provider's schema on SQLite (the PostgreSQL migration holds the same logical
-- schema). Ids are the provider's own strings (`pi_...`, `re_...`, `evt_...`); instants are
-- INTEGER microseconds since the Unix epoch, UTC; money is INTEGER minor units.

CREATE TABLE payment_intents (
    id                  TEXT    NOT NULL PRIMARY KEY,
    amount              INTEGER NOT NULL CHECK (amount > 0),
    currency            TEXT    NOT NULL CHECK (length(currency) = 3),
    status              TEXT    NOT NULL CHECK (status IN
                            ('requires_payment_method', 'processing', 'succeeded', 'canceled')),
    amount_received     INTEGER NOT NULL CHECK (amount_received IN (0, amount)),
    amount_refunded     INTEGER NOT NULL CHECK (amount_refunded BETWEEN 0 AND amount_received),
    return_url          TEXT    NOT NULL,
    description         TEXT    NULL,
    -- JSON object of strings.
    metadata            TEXT    NOT NULL,
    error_code          TEXT    NULL,
    error_decline_code  TEXT    NULL,
    error_message       TEXT    NULL,
    payment_method      TEXT    NULL,
    settle_at           INTEGER NULL,
    canceled_at         INTEGER NULL,
    cancellation_reason TEXT    NULL,
    version             INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;

CREATE INDEX payment_intents_settling ON payment_intents (settle_at) WHERE status = 'processing';

CREATE TABLE refunds (
    id             TEXT    NOT NULL PRIMARY KEY,
    payment_intent TEXT    NOT NULL REFERENCES payment_intents (id),
    amount         INTEGER NOT NULL CHECK (amount > 0),
    currency       TEXT    NOT NULL,
    reason         TEXT    NULL,
    created_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX refunds_payment_intent ON refunds (payment_intent, created_at);

-- Money that moved. One capture per intent at most: the backstop against a double charge.
CREATE TABLE ledger_entries (
    seq            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    payment_intent TEXT    NOT NULL REFERENCES payment_intents (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('capture', 'refund')),
    amount         INTEGER NOT NULL CHECK (amount > 0),
    currency       TEXT    NOT NULL,
    refund_id      TEXT    NULL UNIQUE REFERENCES refunds (id),
    at             INTEGER NOT NULL,
    CHECK ((kind = 'refund') = (refund_id IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX ledger_entries_one_capture ON ledger_entries (payment_intent)
    WHERE kind = 'capture';

-- The first answer given under each idempotency key (kept for a day, then pruned).
CREATE TABLE idempotency_keys (
    key             TEXT    NOT NULL PRIMARY KEY,
    fingerprint     TEXT    NOT NULL,
    response_status INTEGER NOT NULL,
    response_body   TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Webhook events to deliver; a delivery survives restarts and is retried until delivered or
-- too old. `locked_until` is the lease of the worker attempting it.
CREATE TABLE webhook_deliveries (
    event_id        TEXT    NOT NULL PRIMARY KEY,
    event_type      TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER NULL,
    last_error      TEXT    NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- Every attempt, with what the receiver answered.
CREATE TABLE webhook_attempts (
    event_id    TEXT    NOT NULL REFERENCES webhook_deliveries (event_id),
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER NULL,
    error       TEXT    NULL,
    PRIMARY KEY (event_id, attempt)
) STRICT;
