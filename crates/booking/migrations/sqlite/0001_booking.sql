-- The booking schema on SQLite (the PostgreSQL migration holds the same logical schema and
-- explains it). Ids are 16-byte UUID blobs; instants are INTEGER microseconds since the Unix
-- epoch, UTC; dates are 'YYYY-MM-DD' text; JSON is text.

CREATE TABLE booking_events (
    booking_id BLOB    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    type       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (booking_id, version)
) STRICT;

CREATE TABLE bookings (
    id              BLOB    NOT NULL PRIMARY KEY,
    reference       TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL CHECK (status IN ('pending_payment', 'confirmed',
                        'checked_in', 'checked_out', 'cancelled', 'expired', 'no_show')),
    guest_id        BLOB    NOT NULL,
    hotel_id        BLOB    NOT NULL,
    hotel_owner_id  BLOB    NOT NULL,
    room_type_id    BLOB    NOT NULL,
    hold_id         BLOB    NOT NULL,
    check_in        TEXT    NOT NULL,
    check_out       TEXT    NOT NULL CHECK (check_out > check_in),
    hold_expires_at INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    document        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX bookings_guest ON bookings (guest_id, id);
CREATE INDEX bookings_hotel ON bookings (hotel_id, check_in, id);
CREATE INDEX bookings_hold ON bookings (hold_id);
CREATE INDEX bookings_unpaid ON bookings (hold_expires_at) WHERE status = 'pending_payment';

CREATE TABLE idempotency_keys (
    caller          TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    fingerprint     BLOB    NOT NULL,
    resource_id     BLOB    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('in_flight', 'completed')),
    response_status INTEGER,
    response_body   TEXT,
    locked_until    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    completed_at    INTEGER,
    PRIMARY KEY (caller, idempotency_key)
) STRICT;

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Physical rooms given at check-in; the check for overlapping stays of a room runs inside
-- the single writer's transaction that inserts the row.
CREATE TABLE room_assignments (
    booking_id BLOB NOT NULL,
    room_id    BLOB NOT NULL,
    hotel_id   BLOB NOT NULL,
    check_in   TEXT NOT NULL,
    check_out  TEXT NOT NULL CHECK (check_out > check_in),
    PRIMARY KEY (booking_id, room_id)
) STRICT;

CREATE INDEX room_assignments_room ON room_assignments (room_id, check_in);
