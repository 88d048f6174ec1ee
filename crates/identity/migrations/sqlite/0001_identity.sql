-- The identity service's schema (SQLite). Instants are microseconds since the Unix epoch.

CREATE TABLE users (
    id               BLOB PRIMARY KEY NOT NULL,
    -- Normalised (trimmed, lower-cased) by the service; unique among accounts.
    email            TEXT NOT NULL,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('guest', 'hotelier', 'admin')),
    -- PHC string: $argon2id$v=19$m=19456,t=2,p=1$...
    password_hash    TEXT NOT NULL,
    phone            TEXT,
    telegram_chat_id TEXT,
    -- JSON object of notification preferences.
    notifications    TEXT NOT NULL,
    version          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

-- A chain of refresh tokens started by one login; revoked as a whole on logout or reuse.
CREATE TABLE refresh_families (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE INDEX refresh_families_user ON refresh_families (user_id);

-- Refresh tokens by the SHA-256 of their value (the value itself is never stored).
CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    family_id  BLOB NOT NULL REFERENCES refresh_families (id),
    user_id    BLOB NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- Set when the token was exchanged for a new pair; presenting it again is reuse.
    spent_at   INTEGER
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
-- The sweeper deletes expired tokens in batches.
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- Ed25519 signing keys. The newest key without `retired_at` signs; retired keys stay
-- published until every token they signed has expired, then are pruned.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    algorithm   TEXT NOT NULL,
    -- PKCS#8 v2 DER of the key pair.
    private_key BLOB NOT NULL,
    -- The raw 32-byte public key.
    public_key  BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);
