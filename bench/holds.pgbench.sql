-- One hold placed and released, statement for statement as PgCatalogStore issues them
-- (crates/catalog/src/store/postgres/{holds,inventory}.rs): two transactions per pgbench
-- "transaction". Run with -M prepared (sqlx prepares and caches every statement too).
-- Room type k has the id 00000000-0000-0000-0000-00000000000k (see examples/hold_bench.rs).
\set k random(1, :room_types)
\set n random(1, 28)
\set len random(1, 3)
\set r random(1, 4611686018427387903)
-- place_hold
BEGIN;
SELECT id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at FROM holds WHERE id = (lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid;
SELECT hotel_id, name FROM room_types WHERE id = lpad(to_hex(:k::int), 32, '0')::uuid FOR KEY SHARE \gset
INSERT INTO holds (id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at) VALUES ((lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid, :hotel_id::uuid, lpad(to_hex(:k::int), 32, '0')::uuid, current_date + :n::int, current_date + :n::int + :len::int, 1, 'held', now() + interval '15 minutes', now(), now()) RETURNING id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at;
INSERT INTO room_nights (room_type_id, night, total) SELECT lpad(to_hex(:k::int), 32, '0')::uuid, (current_date + :n::int)::date + i, (SELECT count(*) FROM rooms WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND status <> 'out_of_service')::int FROM generate_series(0, (current_date + :n::int + :len::int)::date - (current_date + :n::int)::date - 1) AS i ORDER BY i ON CONFLICT (room_type_id, night) DO NOTHING;
UPDATE room_nights SET held = held + 1 WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND night = current_date + :n::int AND held + sold + 1 <= total;
\if :len >= 2
UPDATE room_nights SET held = held + 1 WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND night = current_date + :n::int + 1 AND held + sold + 1 <= total;
\endif
\if :len >= 3
UPDATE room_nights SET held = held + 1 WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND night = current_date + :n::int + 2 AND held + sold + 1 <= total;
\endif
COMMIT;
-- release_hold
BEGIN;
SELECT id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at FROM holds WHERE id = (lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid FOR UPDATE;
SELECT hotel_id, name FROM room_types WHERE id = lpad(to_hex(:k::int), 32, '0')::uuid FOR KEY SHARE;
UPDATE room_nights SET held = held + -1, sold = sold + 0, total = CASE WHEN manual_total THEN total ELSE GREATEST((SELECT count(*) FROM rooms WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND status <> 'out_of_service')::int, held + -1 + sold + 0) END WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND night = current_date + :n::int;
\if :len >= 2
UPDATE room_nights SET held = held + -1, sold = sold + 0, total = CASE WHEN manual_total THEN total ELSE GREATEST((SELECT count(*) FROM rooms WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND status <> 'out_of_service')::int, held + -1 + sold + 0) END WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND night = current_date + :n::int + 1;
\endif
\if :len >= 3
UPDATE room_nights SET held = held + -1, sold = sold + 0, total = CASE WHEN manual_total THEN total ELSE GREATEST((SELECT count(*) FROM rooms WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND status <> 'out_of_service')::int, held + -1 + sold + 0) END WHERE room_type_id = lpad(to_hex(:k::int), 32, '0')::uuid AND night = current_date + :n::int + 2;
\endif
UPDATE holds SET status = 'released', updated_at = now() WHERE id = (lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid RETURNING id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at;
COMMIT;
