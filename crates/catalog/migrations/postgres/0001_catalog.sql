-- The catalog's schema on PostgreSQL: hotels, room types, physical rooms, per-night inventory
-- and holds. The SQLite migrations carry the same logical schema.

CREATE TABLE hotels (
    id          uuid PRIMARY KEY,
    owner_id    uuid NOT NULL,
    name        text NOT NULL,
    description text NOT NULL,
    address     text NOT NULL,
    city        text NOT NULL,
    -- The form city searches compare with, kept by the database so it cannot drift.
    city_key    text GENERATED ALWAYS AS (lower(btrim(city))) STORED,
    country     text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    stars       smallint NULL CHECK (stars BETWEEN 1 AND 5),
    currency    text NOT NULL CHECK (length(currency) = 3),
    timezone    text NOT NULL,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX hotels_city_key_idx ON hotels (city_key);
CREATE INDEX hotels_lat_lon_idx ON hotels (lat, lon);

CREATE TABLE room_types (
    id          uuid PRIMARY KEY,
    hotel_id    uuid NOT NULL REFERENCES hotels (id),
    name        text NOT NULL,
    description text NOT NULL,
    capacity    integer NOT NULL CHECK (capacity >= 0),
    beds        jsonb NOT NULL,
    amenities   text[] NOT NULL,
    -- Minor units of `currency`.
    base_price  bigint NOT NULL CHECK (base_price >= 0),
    currency    text NOT NULL CHECK (length(currency) = 3),
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX room_types_hotel_id_idx ON room_types (hotel_id);

CREATE TABLE rooms (
    id           uuid PRIMARY KEY,
    hotel_id     uuid NOT NULL REFERENCES hotels (id),
    room_type_id uuid NOT NULL REFERENCES room_types (id),
    number       text NOT NULL,
    floor        integer NOT NULL,
    status       text NOT NULL CHECK (status IN ('ready', 'dirty', 'out_of_service')),
    version      bigint NOT NULL,
    CONSTRAINT rooms_hotel_number_key UNIQUE (hotel_id, number)
);

CREATE INDEX rooms_room_type_id_idx ON rooms (room_type_id);

-- One row per room type and night, created the first time the night is priced, allotted or
-- held. A night without a row has the type's active-room count as total and the base price.
CREATE TABLE room_nights (
    room_type_id uuid NOT NULL REFERENCES room_types (id),
    night        date NOT NULL,
    total        integer NOT NULL,
    held         integer NOT NULL DEFAULT 0,
    sold         integer NOT NULL DEFAULT 0,
    -- Set by an explicit allotment; room changes no longer resync such a night.
    manual_total boolean NOT NULL DEFAULT false,
    price        bigint NULL CHECK (price >= 0),
    min_stay     integer NULL,
    PRIMARY KEY (room_type_id, night),
    -- The backstop of the no-oversell invariant: the store's conditional updates never get here.
    CONSTRAINT room_nights_counters_check
        CHECK (held >= 0 AND sold >= 0 AND total >= 0 AND held + sold <= total)
);

CREATE TABLE holds (
    id           uuid PRIMARY KEY,
    hotel_id     uuid NOT NULL REFERENCES hotels (id),
    room_type_id uuid NOT NULL REFERENCES room_types (id),
    check_in     date NOT NULL,
    check_out    date NOT NULL,
    quantity     integer NOT NULL CHECK (quantity > 0),
    status       text NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT holds_stay_check CHECK (check_out > check_in)
);

-- The sweeper's queue: only live holds are indexed.
CREATE INDEX holds_due_idx ON holds (expires_at) WHERE status = 'held';
