-- The payment service's schema on PostgreSQL (the SQLite migration holds the same logical
-- schema). Ids are UUIDs (native uuid here), money is integer minor units, instants are
-- Unix microseconds (as the event tables store them), so both backends decode alike.

CREATE TABLE payment_intents (
    id                  uuid    PRIMARY KEY,
    booking_id          uuid    NOT NULL UNIQUE,
    guest_id            uuid    NOT NULL,
    reference           text    NOT NULL,
    status              text    NOT NULL CHECK (status IN
                            ('creating', 'requires_payment', 'processing', 'succeeded', 'failed', 'canceled')),
    amount              bigint  NOT NULL CHECK (amount > 0),
    currency            text    NOT NULL CHECK (length(currency) = 3),
    amount_refunded     bigint  NOT NULL CHECK (amount_refunded BETWEEN 0 AND amount),
    return_url          text    NOT NULL,
    provider_intent_id  text    NULL UNIQUE,
    checkout_url        text    NULL,
    failure_code        text    NULL,
    failure_message     text    NULL,
    -- Whether the provider must still be told to cancel: none, pending, done.
    provider_cancel     text    NOT NULL CHECK (provider_cancel IN ('none', 'pending', 'done')),
    cancel_attempts     bigint  NOT NULL,
    cancel_next_at      bigint  NOT NULL,
    version             bigint  NOT NULL,
    created_at          bigint  NOT NULL,
    updated_at          bigint  NOT NULL
);

CREATE INDEX payment_intents_cancels ON payment_intents (cancel_next_at) WHERE provider_cancel = 'pending';

CREATE TABLE payment_refunds (
    id                  uuid    PRIMARY KEY,
    payment_id          uuid    NOT NULL REFERENCES payment_intents (id),
    booking_id          uuid    NOT NULL,
    -- The caller's key: one refund per (payment, key).
    refund_key          text    NOT NULL,
    amount              bigint  NOT NULL CHECK (amount > 0),
    currency            text    NOT NULL,
    reason              text    NOT NULL,
    status              text    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_refund_id  text    NULL UNIQUE,
    attempts            bigint  NOT NULL,
    next_attempt_at     bigint  NOT NULL,
    last_error          text    NULL,
    created_at          bigint  NOT NULL,
    updated_at          bigint  NOT NULL,
    UNIQUE (payment_id, refund_key)
);

CREATE INDEX payment_refunds_due ON payment_refunds (next_attempt_at) WHERE status = 'pending';

-- Every verified webhook message, by its id: a message seen before has no second effect.
CREATE TABLE webhook_receipts (
    webhook_id          text    PRIMARY KEY,
    event_type          text    NOT NULL,
    received_at         bigint  NOT NULL
);

CREATE INDEX webhook_receipts_age ON webhook_receipts (received_at);
