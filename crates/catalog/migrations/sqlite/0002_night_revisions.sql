-- A night's revision: 1 when its row is created, one more on every change (the PostgreSQL
-- migration of the same name says why).
ALTER TABLE room_nights ADD COLUMN rev INTEGER NOT NULL DEFAULT 1;
