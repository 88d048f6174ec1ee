-- One booking, statement for statement as the services issue it on PostgreSQL (captured with
-- log_statement = all from `POST /api/v1/bookings` with an Idempotency-Key, demo data, a
-- 1-3 night stay): the booking's key claim, the catalog's quote, the hold
-- transaction, the search index's re-read of the room type, and the booking's append. The
-- relays' batched publishing is not included, nor any consumer: the events of a booking's
-- creation are ones no consumer acts on (`Consumer::wants`). Run with -M prepared (sqlx
-- prepares and caches every statement too) against one database holding the catalog's and
-- the booking's tables (bench/booking.pgbench.sh makes it).
\set k random(0, :room_types - 1)
\set n random(7, 360)
\set len random(1, 3)
\set r random(1, 4611686018427387903)
SELECT id AS rt, hotel_id AS h FROM room_types ORDER BY id OFFSET :k LIMIT 1 \gset
-- BookingService::create: claim the key (its own transaction)
INSERT INTO idempotency_keys (caller, idempotency_key, fingerprint, resource_id, status, locked_until, created_at) VALUES ('guest:00000000-0000-7000-8000-000000000d00', 'bench-' || :client_id || '-' || :r, '\x00', (lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid, 'in_flight', now() + interval '1 minute', now()) ON CONFLICT (caller, idempotency_key) DO NOTHING;
-- catalog.quote: the room type with its hotel, and its nights
SELECT h.id AS h_id, h.owner_id AS h_owner_id, h.name AS h_name, h.description AS h_description, h.address AS h_address, h.city AS h_city, h.country AS h_country, h.lat AS h_lat, h.lon AS h_lon, h.stars AS h_stars, h.currency AS h_currency, h.timezone AS h_timezone, h.version AS h_version, h.created_at AS h_created_at, h.updated_at AS h_updated_at, rt.id AS rt_id, rt.hotel_id AS rt_hotel_id, rt.name AS rt_name, rt.description AS rt_description, rt.capacity AS rt_capacity, rt.beds::text AS rt_beds, rt.amenities AS rt_amenities, rt.base_price AS rt_base_price, rt.currency AS rt_currency, rt.version AS rt_version, (SELECT count(*) FROM rooms r WHERE r.room_type_id = rt.id AND r.status <> 'out_of_service') AS rt_active_rooms FROM room_types rt JOIN hotels h ON h.id = rt.hotel_id WHERE rt.id = :rt AND rt.capacity >= 0;
SELECT room_type_id, night, total, held, sold, price, min_stay FROM room_nights WHERE room_type_id = ANY(ARRAY[:rt::uuid]) AND night >= current_date + :n::int AND night < current_date + :n::int + :len::int ORDER BY room_type_id, night;
-- catalog.place_hold
BEGIN;
SELECT id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at FROM holds WHERE id = (lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid;
SELECT hotel_id, name FROM room_types WHERE id = :rt FOR KEY SHARE;
INSERT INTO holds (id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at) VALUES ((lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid, :h, :rt, current_date + :n::int, current_date + :n::int + :len::int, 1, 'held', now() + interval '15 minutes', now(), now()) RETURNING id, hotel_id, room_type_id, check_in, check_out, quantity, status, expires_at, created_at, updated_at;
INSERT INTO room_nights (room_type_id, night, total) SELECT :rt, (current_date + :n::int)::date + i, (SELECT count(*) FROM rooms WHERE room_type_id = :rt AND status <> 'out_of_service')::int FROM generate_series(0, :len::int - 1) AS i ORDER BY i ON CONFLICT (room_type_id, night) DO NOTHING;
UPDATE room_nights SET held = held + 1 WHERE room_type_id = :rt AND night = current_date + :n::int AND held + sold + 1 <= total;
\if :len >= 2
UPDATE room_nights SET held = held + 1 WHERE room_type_id = :rt AND night = current_date + :n::int + 1 AND held + sold + 1 <= total;
\endif
\if :len >= 3
UPDATE room_nights SET held = held + 1 WHERE room_type_id = :rt AND night = current_date + :n::int + 2 AND held + sold + 1 <= total;
\endif
INSERT INTO event_outbox (id, topic, source, type, subject, time, content_type, data, traceparent, tracestate) VALUES (gen_random_uuid(), 'catalog.events', '/innkeeper/catalog', 'innkeeper.catalog.inventory_changed.v1', :rt, 1796055092000000, 'application/json', convert_to('{"room_type_id":"' || :rt || '","hotel_id":"' || :h || '","from":"2027-03-05","to":"2027-03-07","cause":"hold_placed","hold_id":"00000000-0000-0000-0000-000000000000","occurred_at":"2026-11-30T16:12:41.847Z"}', 'UTF8'), '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', NULL);
COMMIT;
-- the search index re-reads the room type the hold changed
SELECT h.id AS h_id, h.owner_id AS h_owner_id, h.name AS h_name, h.description AS h_description, h.address AS h_address, h.city AS h_city, h.country AS h_country, h.lat AS h_lat, h.lon AS h_lon, h.stars AS h_stars, h.currency AS h_currency, h.timezone AS h_timezone, h.version AS h_version, h.created_at AS h_created_at, h.updated_at AS h_updated_at, rt.id AS rt_id, rt.hotel_id AS rt_hotel_id, rt.name AS rt_name, rt.description AS rt_description, rt.capacity AS rt_capacity, rt.beds::text AS rt_beds, rt.amenities AS rt_amenities, rt.base_price AS rt_base_price, rt.currency AS rt_currency, rt.version AS rt_version, (SELECT count(*) FROM rooms r WHERE r.room_type_id = rt.id AND r.status <> 'out_of_service') AS rt_active_rooms FROM room_types rt JOIN hotels h ON h.id = rt.hotel_id WHERE rt.id = :rt AND rt.capacity >= 0;
SELECT room_type_id, night, total, held, sold, price, min_stay FROM room_nights WHERE room_type_id = ANY(ARRAY[:rt::uuid]) AND night >= current_date + :n::int AND night < current_date + :n::int + :len::int ORDER BY room_type_id, night;
-- the booking's append: event, projection, outbox, the key's answer
BEGIN;
INSERT INTO booking_events (booking_id, version, type, payload, actor, at) VALUES ((lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid, 1, 'created', '{"reference":"INK-BENCH1","guest_id":"00000000-0000-7000-8000-000000000d00","hotel_id":"01a22d39-fc08-77db-8810-793a920f61aa","hotel_owner_id":"00000000-0000-7000-8000-000000000d01","room_type_id":"01a22d3a-001c-70ba-a402-c668c0a8d46e","stay":{"check_in":"2027-03-05","check_out":"2027-03-07"},"guests":1,"rooms":1,"guest_name":"Bench Guest","price":{"nights":[{"night":"2027-03-05","price":{"amount":12000,"currency":"EUR"}},{"night":"2027-03-06","price":{"amount":12000,"currency":"EUR"}}],"total":{"amount":24000,"currency":"EUR"}},"cancellation_policy":{"free_until_days_before":2,"late_refund_percent":50},"hold_expires_at":"2026-11-30T16:27:41Z"}'::jsonb, 'guest:00000000-0000-7000-8000-000000000d00', now());
INSERT INTO bookings (id, reference, status, guest_id, hotel_id, hotel_owner_id, room_type_id, hold_id, check_in, check_out, hold_expires_at, version, document, created_at, updated_at) VALUES ((lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid, 'INK-' || upper(lpad(to_hex(:client_id::int), 4, '0') || to_hex(:r::bigint)), 'pending_payment', '00000000-0000-7000-8000-000000000d00', :h, '00000000-0000-7000-8000-000000000d01', :rt, (lpad(to_hex(:client_id::int), 16, '0') || lpad(to_hex(:r::bigint), 16, '0'))::uuid, current_date + :n::int, current_date + :n::int + :len::int, now() + interval '15 minutes', 1, '{"status":"pending_payment","guest_name":"Bench Guest","price":{"total":{"amount":24000,"currency":"EUR"}},"payment":"awaiting_payment","paid":{"amount":0,"currency":"EUR"},"version":1}'::jsonb, now(), now());
INSERT INTO event_outbox (id, topic, source, type, subject, time, content_type, data, traceparent, tracestate) VALUES (gen_random_uuid(), 'booking.events', '/innkeeper/booking', 'innkeeper.booking.created.v1', :rt, 1796055092000000, 'application/json', convert_to('{"booking_id":"' || :rt || '","reference":"INK-BENCH1","version":1,"status":"pending_payment","guest_id":"00000000-0000-7000-8000-000000000d00","hotel_id":"' || :h || '","room_type_id":"' || :rt || '","check_in":"2027-03-05","check_out":"2027-03-07","actor":{"kind":"user","user_id":"00000000-0000-7000-8000-000000000d00","role":"guest"},"data":{}}', 'UTF8'), '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', NULL);
UPDATE idempotency_keys SET status = 'completed', response_status = 201, response_body = '{"id":"' || :rt || '","status":"pending_payment","price":{"total":{"amount":24000,"currency":"EUR"}}}', completed_at = now() WHERE caller = 'guest:00000000-0000-7000-8000-000000000d00' AND idempotency_key = 'bench-' || :client_id || '-' || :r AND status = 'in_flight';
COMMIT;
