-- A booking may have several payments: its price, a new price after a change made before it
-- was paid, the balance a change of a paid booking left owing. Each is recorded under the
-- booking version of its change (`modification`, 0 for the booking's own). `adopted_at`: when
-- a booking event first named the payment (NULL: its booking or change was never recorded, so
-- the worker cancels it once it is old enough). Payments recorded before count as adopted.

ALTER TABLE payment_intents DROP CONSTRAINT payment_intents_booking_id_key;

ALTER TABLE payment_intents
    ADD COLUMN purpose      text   NOT NULL DEFAULT 'booking' CHECK (purpose IN ('booking', 'balance')),
    ADD COLUMN modification bigint NOT NULL DEFAULT 0 CHECK (modification >= 0),
    ADD COLUMN adopted_at   bigint NULL;

UPDATE payment_intents SET adopted_at = created_at;

ALTER TABLE payment_intents
    ADD CONSTRAINT payment_intents_booking_modification_key UNIQUE (booking_id, modification);

CREATE INDEX payment_intents_orphans ON payment_intents (created_at) WHERE adopted_at IS NULL;
