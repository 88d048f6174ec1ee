#!/usr/bin/env bash
# Booking creation on PostgreSQL: throughput and latency at 64 clients spread over every room
# type of the demo hotels (wrk, bench/booking.lua), then hot contention (64 guests for the last
# 10 rooms, bench/booking_hot.py), then pgbench running the same SQL a booking costs
# (bench/booking.pgbench.sql) on the same databases at the same concurrency.
#
#   bench/booking.sh [DURATION] [SHAPE]      e.g. bench/booking.sh 20s split
#
# SHAPE embedded (default): one process (`serve --target gateway,catalog,identity,booking`), each service on its own
#   PostgreSQL database. SHAPE split: catalog, identity, booking and the gateway as four
#   processes over gRPC, on the same databases.
#
# Needs: a release build (cargo build --release -p innkeeper), wrk, pgbench, psql, python3,
# PostgreSQL on this machine (trust; PGHOST, default its socket directory /var/run/postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-20s}"
SHAPE="${2:-embedded}"
BIN="${CARGO_TARGET_DIR:-target}/release/innkeeper"
ADDR=127.0.0.1:18080
# PostgreSQL through its Unix socket by default, for the services and pgbench alike: on one
# machine a socket is what an operator would use, and it costs less than TCP on the loopback.
PGHOST="${PGHOST:-/var/run/postgresql}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGHOST PGPORT PGUSER
PG="postgres://$PGUSER@${PGHOST//\//%2F}:$PGPORT"  # a socket directory with its slashes encoded
WORK="$(mktemp -d /tmp/bookingbench.XXXXXX)"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

export INNKEEPER__TELEMETRY__LOG_FORMAT=json INNKEEPER__TELEMETRY__LOG_FILTER=warn RUST_LOG=warn
# One client IP makes every request here: the per-IP quota would measure the limiter.
export INNKEEPER__GATEWAY__RATE_LIMIT__ENABLED=false
export INNKEEPER__NODE__DATA_DIR="$WORK/data"
export INNKEEPER__CATALOG__DATABASE_URL="$PG/ink_bench_catalog"
export INNKEEPER__IDENTITY__DATABASE_URL="$PG/ink_bench_identity"
export INNKEEPER__BOOKING__DATABASE_URL="$PG/ink_bench_booking"
export INNKEEPER__AUTH__SERVICE_SECRET="bench-service-secret"
# Each process's pools: 64 clients in flight, well inside PostgreSQL's 100 connections.
export INNKEEPER__CATALOG__MAX_CONNECTIONS=24 INNKEEPER__BOOKING__MAX_CONNECTIONS=24

for db in catalog identity booking; do
  psql -q -d postgres -c "DROP DATABASE IF EXISTS ink_bench_$db WITH (FORCE)" -c "CREATE DATABASE ink_bench_$db" > /dev/null
done
INNKEEPER__NODE__GRPC_LISTEN="" "$BIN" seed > "$WORK/seed.log" 2>&1

# Up to 60 s: right after another run, PostgreSQL may still be checkpointing that run's writes.
wait_ready() {
  for _ in $(seq 1 1200); do curl -fs "$1/health/ready" > /dev/null && return 0; sleep 0.05; done
  echo "not ready: $1" >&2; return 1
}
case "$SHAPE" in
  embedded)
    INNKEEPER__NODE__GRPC_LISTEN="" "$BIN" serve --target gateway,catalog,identity,booking --listen "$ADDR" > "$WORK/all.log" 2>&1 &
    PIDS+=($!)
    ;;
  split)
    export INNKEEPER__CATALOG__ENDPOINT=http://127.0.0.1:50151
    export INNKEEPER__IDENTITY__ENDPOINT=http://127.0.0.1:50152
    export INNKEEPER__BOOKING__ENDPOINT=http://127.0.0.1:50153
    "$BIN" serve --target catalog --listen 127.0.0.1:18081 --grpc-listen 127.0.0.1:50151 > "$WORK/catalog.log" 2>&1 &
    PIDS+=($!)
    "$BIN" serve --target identity --listen 127.0.0.1:18082 --grpc-listen 127.0.0.1:50152 > "$WORK/identity.log" 2>&1 &
    PIDS+=($!)
    "$BIN" serve --target booking --listen 127.0.0.1:18083 --grpc-listen 127.0.0.1:50153 > "$WORK/booking.log" 2>&1 &
    PIDS+=($!)
    INNKEEPER__NODE__GRPC_LISTEN="" "$BIN" serve --target gateway --listen "$ADDR" > "$WORK/gateway.log" 2>&1 &
    PIDS+=($!)
    ;;
  *) echo "unknown shape $SHAPE (embedded|split)" >&2; exit 2 ;;
esac
wait_ready "http://$ADDR"

login() {
  curl -fs "http://$ADDR/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"innkeeper-demo-2026\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
GUEST=$(login guest@innkeeper.test)
OWNER=$(login hotelier@innkeeper.test)
# A hotel of the demo hotelier and one of its room types, for the hot stay.
read -r HOTEL ROOM_TYPE < <(python3 - "http://$ADDR" "$OWNER" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
req = urllib.request.Request(base + "/api/v1/hotels?limit=100")
hotels = json.load(urllib.request.urlopen(req))["items"]
for h in hotels:
    details = json.load(urllib.request.urlopen(base + f"/api/v1/hotels/{h['id']}"))
    if details["owner_id"] == "00000000-0000-7000-8000-000000000d01":  # hotelier@innkeeper.test
        print(h["id"], details["room_types"][0]["id"]); break
PY
)
# Every other room type of every hotel: {hotel id, room type id, capacity}.
python3 - "http://$ADDR" "$ROOM_TYPE" > "$WORK/targets.lua" <<'PY'
import json, sys, urllib.request
base, hot = sys.argv[1], sys.argv[2]
def get(path):
    with urllib.request.urlopen(base + path) as r:
        return json.load(r)
rows, cursor = [], None
while True:
    page = get("/api/v1/hotels?limit=100" + (f"&cursor={cursor}" if cursor else ""))
    for h in page["items"]:
        for rt in get(f"/api/v1/hotels/{h['id']}")["room_types"]:
            if rt["id"] != hot:  # kept for the hot-contention rounds
                rows.append((h["id"], rt["id"], rt["capacity"]))
    cursor = page.get("next_cursor")
    if not cursor:
        break
print("return {" + ",".join(f'{{"{h}","{r}",{c}}}' for h, r, c in rows) + "}")
PY
# The same fixed work, timed before and after: on these virtual machines it varies by a
# quarter from one minute to the next, idle, so compare runs by it and by pgbench's figure.
cpu_check() {
  python3 -c 'import time
t = time.perf_counter(); x = 0
for i in range(3000000): x += i * i
print("cpu check: a fixed loop took %.0f ms" % ((time.perf_counter() - t) * 1000))'
}
cpu_check
echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "postgres: $(psql -At -d postgres -c 'SHOW server_version'); shape: $SHAPE; room types: $(grep -o '{"' "$WORK/targets.lua" | wc -l)"

# A checkpoint now, so that none falls inside a measured phase (the next timed one is
# checkpoint_timeout away): each phase then starts alike, every page's first change after
# a checkpoint writing its full image to the log.
checkpoint() { psql -q -d postgres -c CHECKPOINT; }
# What PostgreSQL wrote to its log in a phase (the whole server's: every service, the relays
# and the bus), per booking created: records and bytes.
wal() { psql -At -F ' ' -d postgres -c 'SELECT wal_records, wal_bytes FROM pg_stat_wal'; }
checkpoint
echo "== bookings: 64 clients, $DURATION, random stays over every room type"
read -r RECORDS BYTES < <(wal)
TOKEN="$GUEST" TARGETS="$WORK/targets.lua" wrk -t2 -c64 -d"$DURATION" --latency -s bench/booking.lua "http://$ADDR" \
  | tee "$WORK/wrk.txt" | grep -E "Requests\/sec|50%|99%|Non-2xx|status|Socket errors"
read -r RECORDS_AFTER BYTES_AFTER < <(wal)
CREATED=$(sed -n 's/^status 201: \([0-9]*\).*/\1/p' "$WORK/wrk.txt")
if [ "${CREATED:-0}" -gt 0 ]; then
  echo "wal: $(( (RECORDS_AFTER - RECORDS) / CREATED )) records, $(( (BYTES_AFTER - BYTES) / CREATED )) bytes per booking created"
fi

checkpoint
echo "== hot contention (hotel $HOTEL, room type $ROOM_TYPE)"
python3 bench/booking_hot.py "http://$ADDR" "$GUEST" "$OWNER" "$HOTEL" "$ROOM_TYPE" 20

echo "== pgbench: the SQL of one booking (bench/booking.pgbench.sql), 64 clients, $DURATION"
kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true
"$(dirname "$0")/booking.pgbench.sh" "$DURATION"
cpu_check
