-- The payment service's schema on SQLite (the PostgreSQL migration holds the same logical
-- schema). Ids are UUIDs (16-byte blobs here), money is integer minor units, instants are
-- Unix microseconds (as the event tables store them), so both backends decode alike.

CREATE TABLE payment_intents (
    id                  BLOB    PRIMARY KEY,
    booking_id          BLOB    NOT NULL UNIQUE,
    guest_id            BLOB    NOT NULL,
    reference           TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN
                            ('creating', 'requires_payment', 'processing', 'succeeded', 'failed', 'canceled')),
    amount              INTEGER NOT NULL CHECK (amount > 0),
    currency            TEXT    NOT NULL CHECK (length(currency) = 3),
    amount_refunded     INTEGER NOT NULL CHECK (amount_refunded BETWEEN 0 AND amount),
    return_url          TEXT    NOT NULL,
    provider_intent_id  TEXT    NULL UNIQUE,
    checkout_url        TEXT    NULL,
    failure_code        TEXT    NULL,
    failure_message     TEXT    NULL,
    -- Whether the provider must still be told to cancel: none, pending, done.
    provider_cancel     TEXT    NOT NULL CHECK (provider_cancel IN ('none', 'pending', 'done')),
    cancel_attempts     INTEGER NOT NULL,
    cancel_next_at      INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE INDEX payment_intents_cancels ON payment_intents (cancel_next_at) WHERE provider_cancel = 'pending';

CREATE TABLE payment_refunds (
    id                  BLOB    PRIMARY KEY,
    payment_id          BLOB    NOT NULL REFERENCES payment_intents (id),
    booking_id          BLOB    NOT NULL,
    -- The caller's key: one refund per (payment, key).
    refund_key          TEXT    NOT NULL,
    amount              INTEGER NOT NULL CHECK (amount > 0),
    currency            TEXT    NOT NULL,
    reason              TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_refund_id  TEXT    NULL UNIQUE,
    attempts            INTEGER NOT NULL,
    next_attempt_at     INTEGER NOT NULL,
    last_error          TEXT    NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (payment_id, refund_key)
);

CREATE INDEX payment_refunds_due ON payment_refunds (next_attempt_at) WHERE status = 'pending';

-- Every verified webhook message, by its id: a message seen before has no second effect.
CREATE TABLE webhook_receipts (
    webhook_id          TEXT    PRIMARY KEY,
    event_type          TEXT    NOT NULL,
    received_at         INTEGER NOT NULL
);

CREATE INDEX webhook_receipts_age ON webhook_receipts (received_at);
