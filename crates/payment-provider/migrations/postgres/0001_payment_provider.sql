-- The payment provider's schema on PostgreSQL (the SQLite migration holds the same logical
-- schema). Ids are the provider's own strings (`pi_...`, `re_...`, `evt_...`); money is
-- bigint minor units. Integer columns are bigint so both backends decode them alike.

CREATE TABLE payment_intents (
    id                  text        PRIMARY KEY,
    amount              bigint      NOT NULL CHECK (amount > 0),
    currency            text        NOT NULL CHECK (length(currency) = 3),
    status              text        NOT NULL CHECK (status IN
                            ('requires_payment_method', 'processing', 'succeeded', 'canceled')),
    amount_received     bigint      NOT NULL CHECK (amount_received IN (0, amount)),
    amount_refunded     bigint      NOT NULL CHECK (amount_refunded BETWEEN 0 AND amount_received),
    return_url          text        NOT NULL,
    description         text        NULL,
    -- JSON object of strings, kept as the text the provider wrote.
    metadata            text        NOT NULL,
    error_code          text        NULL,
    error_decline_code  text        NULL,
    error_message       text        NULL,
    payment_method      text        NULL,
    settle_at           timestamptz NULL,
    canceled_at         timestamptz NULL,
    cancellation_reason text        NULL,
    version             bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);

CREATE INDEX payment_intents_settling ON payment_intents (settle_at) WHERE status = 'processing';

CREATE TABLE refunds (
    id             text        PRIMARY KEY,
    payment_intent text        NOT NULL REFERENCES payment_intents (id),
    amount         bigint      NOT NULL CHECK (amount > 0),
    currency       text        NOT NULL,
    reason         text        NULL,
    created_at     timestamptz NOT NULL
);

CREATE INDEX refunds_payment_intent ON refunds (payment_intent, created_at);

-- Money that moved. One capture per intent at most: the backstop against a double charge.
CREATE TABLE ledger_entries (
    seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_intent text        NOT NULL REFERENCES payment_intents (id),
    kind           text        NOT NULL CHECK (kind IN ('capture', 'refund')),
    amount         bigint      NOT NULL CHECK (amount > 0),
    currency       text        NOT NULL,
    refund_id      text        NULL UNIQUE REFERENCES refunds (id),
    at             timestamptz NOT NULL,
    CHECK ((kind = 'refund') = (refund_id IS NOT NULL))
);

CREATE UNIQUE INDEX ledger_entries_one_capture ON ledger_entries (payment_intent)
    WHERE kind = 'capture';

-- The first answer given under each idempotency key (kept for a day, then pruned).
CREATE TABLE idempotency_keys (
    key             text        PRIMARY KEY,
    fingerprint     text        NOT NULL,
    response_status bigint      NOT NULL,
    response_body   text        NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Webhook events to deliver; a delivery survives restarts and is retried until delivered or
-- too old. `locked_until` is the lease of the worker attempting it.
CREATE TABLE webhook_deliveries (
    event_id        text        PRIMARY KEY,
    event_type      text        NOT NULL,
    payload         text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        bigint      NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz NULL,
    last_error      text        NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- Every attempt, with what the receiver answered.
CREATE TABLE webhook_attempts (
    event_id    text        NOT NULL REFERENCES webhook_deliveries (event_id),
    attempt     bigint      NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms bigint      NOT NULL,
    status_code bigint      NULL,
    error       text        NULL,
    PRIMARY KEY (event_id, attempt)
);
