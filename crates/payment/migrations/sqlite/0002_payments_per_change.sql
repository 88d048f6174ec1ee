-- A booking may have several payments: its price, a new price after a change made before it
-- was paid, the balance a change of a paid booking left owing. Each is recorded under the
-- booking version of its change (`modification`, 0 for the booking's own). `adopted_at`: when
-- a booking event first named the payment (NULL: its booking or change was never recorded, so
-- the worker cancels it once it is old enough).
--
-- SQLite cannot drop the old UNIQUE (booking_id), so the table is rebuilt. The refunds'
-- foreign key is checked at commit (defer_foreign_keys): the rows dropped are inserted again
-- under the same ids before then.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE payment_intents_copy AS SELECT * FROM payment_intents;

DROP TABLE payment_intents;

CREATE TABLE payment_intents (
    id                  BLOB    PRIMARY KEY,
    booking_id          BLOB    NOT NULL,
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
    provider_cancel     TEXT    NOT NULL CHECK (provider_cancel IN ('none', 'pending', 'done')),
    cancel_attempts     INTEGER NOT NULL,
    cancel_next_at      INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    purpose             TEXT    NOT NULL CHECK (purpose IN ('booking', 'balance')),
    modification        INTEGER NOT NULL CHECK (modification >= 0),
    adopted_at          INTEGER NULL,
    UNIQUE (booking_id, modification)
);

INSERT INTO payment_intents (id, booking_id, guest_id, reference, status, amount, currency,
    amount_refunded, return_url, provider_intent_id, checkout_url, failure_code, failure_message,
    provider_cancel, cancel_attempts, cancel_next_at, version, created_at, updated_at, purpose,
    modification, adopted_at)
SELECT id, booking_id, guest_id, reference, status, amount, currency, amount_refunded,
    return_url, provider_intent_id, checkout_url, failure_code, failure_message, provider_cancel,
    cancel_attempts, cancel_next_at, version, created_at, updated_at, 'booking', 0, created_at
FROM payment_intents_copy;

DROP TABLE payment_intents_copy;

CREATE INDEX payment_intents_cancels ON payment_intents (cancel_next_at) WHERE provider_cancel = 'pending';

CREATE INDEX payment_intents_orphans ON payment_intents (created_at) WHERE adopted_at IS NULL;
