-- The booking service's schema (PostgreSQL). The SQLite migration holds the same logical schema.

-- The source of truth: every booking's events. Appending version n + 1 when the stream is at
-- n is the optimistic lock: of two writers that read version n, the primary key lets one in.
CREATE TABLE booking_events (
    booking_id uuid        NOT NULL,
    version    bigint      NOT NULL CHECK (version >= 1),
    type       text        NOT NULL,
    payload    jsonb       NOT NULL,
    -- `guest:<uuid>`, `hotelier:<uuid>`, `admin:<uuid>` or `service:<name>`.
    actor      text        NOT NULL,
    at         timestamptz NOT NULL,
    CONSTRAINT booking_events_pkey PRIMARY KEY (booking_id, version)
);

-- The projection for queries, written in the transaction that appends the events. `document`
-- is the whole booking as its events make it; the other columns are what queries filter on.
CREATE TABLE bookings (
    id              uuid        PRIMARY KEY,
    reference       text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending_payment', 'confirmed',
                        'checked_in', 'checked_out', 'cancelled', 'expired', 'no_show')),
    guest_id        uuid        NOT NULL,
    hotel_id        uuid        NOT NULL,
    hotel_owner_id  uuid        NOT NULL,
    room_type_id    uuid        NOT NULL,
    -- The hold currently backing the booking (the booking id until a modification).
    hold_id         uuid        NOT NULL,
    check_in        date        NOT NULL,
    check_out       date        NOT NULL CHECK (check_out > check_in),
    hold_expires_at timestamptz NOT NULL,
    version         bigint      NOT NULL,
    document        jsonb       NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT bookings_reference_key UNIQUE (reference)
);

CREATE INDEX bookings_guest ON bookings (guest_id, id);
CREATE INDEX bookings_hotel ON bookings (hotel_id, check_in, id);
CREATE INDEX bookings_hold ON bookings (hold_id);
CREATE INDEX bookings_unpaid ON bookings (hold_expires_at) WHERE status = 'pending_payment';

-- Idempotency keys (IETF draft semantics), scoped to the caller. A key is claimed before the
-- request runs (`in_flight`, leased until `locked_until`) and completed with the response in
-- the transaction of the request's effect; an abandoned claim (a crash) can be taken over
-- after its lease, with the same `resource_id`, so the retry finds the same booking and hold.
CREATE TABLE idempotency_keys (
    caller          text        NOT NULL,
    idempotency_key text        NOT NULL,
    -- SHA-256 of the operation, its path and its body.
    fingerprint     bytea       NOT NULL,
    resource_id     uuid        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('in_flight', 'completed')),
    response_status integer,
    response_body   text,
    locked_until    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (caller, idempotency_key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Physical rooms given at check-in. A room can never hold two overlapping stays: the
-- exclusion constraint decides between concurrent check-ins (the loser waits, then fails).
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE room_assignments (
    booking_id uuid      NOT NULL,
    room_id    uuid      NOT NULL,
    hotel_id   uuid      NOT NULL,
    -- The nights `[check_in, check_out)`.
    stay       daterange NOT NULL,
    CONSTRAINT room_assignments_pkey PRIMARY KEY (booking_id, room_id),
    CONSTRAINT room_assignments_no_overlap EXCLUDE USING gist (room_id WITH =, stay WITH &&)
);
