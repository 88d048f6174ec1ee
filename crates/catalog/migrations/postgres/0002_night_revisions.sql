-- A night's revision: 1 when its row is created, one more on every change. The search index
-- keeps the revision of each night it holds and applies a value only if it is newer, so the
-- nights a write returns can go into the index in any order (see store/postgres/holds.rs).
ALTER TABLE room_nights ADD COLUMN rev bigint NOT NULL DEFAULT 1;
