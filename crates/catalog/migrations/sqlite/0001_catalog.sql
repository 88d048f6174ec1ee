-- The catalog schema on SQLite (the PostgreSQL migration holds the same logical schema).
-- Ids are 16-byte UUID blobs (they sort like PostgreSQL's uuid); instants are INTEGER
-- microseconds since the Unix epoch, UTC (PostgreSQL's precision, and they compare as numbers);
-- nights are 'YYYY-MM-DD' text; money is INTEGER minor units.

CREATE TABLE hotels (
    id          BLOB    NOT NULL PRIMARY KEY,
    owner_id    BLOB    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    city        TEXT    NOT NULL,
    -- lower(trim(city)), computed by the application so that non-ASCII letters fold too.
    city_key    TEXT    NOT NULL,
    -- Lower-cased name, city and description for the free-text filter (same reason).
    search_text TEXT    NOT NULL,
    country     TEXT    NOT NULL,
    lat         REAL    NOT NULL,
    lon         REAL    NOT NULL,
    stars       INTEGER NULL,
    currency    TEXT    NOT NULL CHECK (length(currency) = 3),
    timezone    TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX hotels_city_key ON hotels (city_key);
CREATE INDEX hotels_location ON hotels (lat, lon);

CREATE TABLE room_types (
    id          BLOB    NOT NULL PRIMARY KEY,
    hotel_id    BLOB    NOT NULL REFERENCES hotels (id),
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    capacity    INTEGER NOT NULL CHECK (capacity >= 0),
    beds        TEXT    NOT NULL,
    amenities   TEXT    NOT NULL,
    base_price  INTEGER NOT NULL,
    currency    TEXT    NOT NULL CHECK (length(currency) = 3),
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX room_types_hotel ON room_types (hotel_id);

CREATE TABLE rooms (
    id           BLOB    NOT NULL PRIMARY KEY,
    hotel_id     BLOB    NOT NULL REFERENCES hotels (id),
    room_type_id BLOB    NOT NULL REFERENCES room_types (id),
    number       TEXT    NOT NULL,
    floor        INTEGER NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('ready', 'dirty', 'out_of_service')),
    version      INTEGER NOT NULL,
    CONSTRAINT rooms_number_unique UNIQUE (hotel_id, number)
) STRICT;

CREATE INDEX rooms_room_type ON rooms (room_type_id);

-- One row per room type and night, created the first time the night is priced, allotted or
-- held. The CHECK is the backstop of the no-oversell invariant.
CREATE TABLE room_nights (
    room_type_id BLOB    NOT NULL REFERENCES room_types (id),
    night        TEXT    NOT NULL,
    total        INTEGER NOT NULL,
    held         INTEGER NOT NULL DEFAULT 0,
    sold         INTEGER NOT NULL DEFAULT 0,
    manual_total INTEGER NOT NULL DEFAULT 0 CHECK (manual_total IN (0, 1)),
    price        INTEGER NULL,
    min_stay     INTEGER NULL,
    PRIMARY KEY (room_type_id, night),
    CONSTRAINT room_nights_no_oversell
        CHECK (held >= 0 AND sold >= 0 AND total >= 0 AND held + sold <= total)
) STRICT, WITHOUT ROWID;

CREATE TABLE holds (
    id           BLOB    NOT NULL PRIMARY KEY,
    hotel_id     BLOB    NOT NULL REFERENCES hotels (id),
    room_type_id BLOB    NOT NULL REFERENCES room_types (id),
    check_in     TEXT    NOT NULL,
    check_out    TEXT    NOT NULL CHECK (check_out > check_in),
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    status       TEXT    NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX holds_status_expiry ON holds (status, expires_at);
