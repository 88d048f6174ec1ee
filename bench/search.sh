#!/usr/bin/env bash
# Availability-search load test beside its ceiling, measured with the same tool (wrk) in the
# same run.
#
#   bench/search.sh [HOTELS] [DURATION] [SHAPE]     e.g. bench/search.sh 1000 15s split
#
# SHAPE embedded (default): `innkeeper up`; the ceiling is /api/v1/ping, a trivial JSON endpoint
#   of the same gateway.
# SHAPE split: `serve --target catalog` and `serve --target gateway,identity` as two processes
#   over gRPC on the same data directory; the one-hop ceiling is the gateway's /health/ready,
#   which makes exactly one gRPC call (the catalog's health) per request, beside a ping of the
#   gateway process's own identity database.
#
# Needs: a release build (cargo build --release -p innkeeper) and wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
HOTELS="${1:-1000}"
DURATION="${2:-15s}"
SHAPE="${3:-embedded}"
BIN="${CARGO_TARGET_DIR:-target}/release/innkeeper"
DATA="${BENCH_DATA:-/tmp/innkeeper-bench-$HOTELS}"
ADDR=127.0.0.1:18080
export INNKEEPER__TELEMETRY__LOG_FORMAT=json RUST_LOG=warn INNKEEPER__TELEMETRY__LOG_FILTER=warn
# One client IP makes every request here: the per-IP quota would measure the limiter.
export INNKEEPER__GATEWAY__RATE_LIMIT__ENABLED=false

if [ "$HOTELS" = demo ]; then
  DATA="${BENCH_DATA:-/tmp/innkeeper-bench-demo}"
  [ -f "$DATA/catalog.db" ] || INNKEEPER__NODE__DATA_DIR="$DATA" INNKEEPER__NODE__GRPC_LISTEN="" "$BIN" seed
elif [ ! -f "$DATA/catalog.db" ]; then
  echo "seeding $HOTELS hotels x 5 room types x 365 nights into $DATA"
  time INNKEEPER__NODE__DATA_DIR="$DATA" INNKEEPER__NODE__GRPC_LISTEN="" \
    "$BIN" seed --bench --hotels "$HOTELS" --room-types 5 --nights 365
fi

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
wait_ready() {
  for _ in $(seq 1 600); do curl -fs "$1/health/ready" > /dev/null && return 0; sleep 0.05; done
  echo "not ready: $1" >&2; return 1
}

START=$(date +%s.%N)
case "$SHAPE" in
  embedded)
    "$BIN" up --data-dir "$DATA" --listen "$ADDR" > /tmp/innkeeper-bench-up.log 2>&1 &
    PIDS+=($!); SERVER=$!
    wait_ready "http://$ADDR"
    CEILING=/api/v1/ping
    ;;
  split)
    # A search-only gateway (no booking endpoint): the split under test is gateway -> catalog.
    INNKEEPER__NODE__DATA_DIR="$DATA" "$BIN" serve --target catalog \
      --listen 127.0.0.1:18081 --grpc-listen 127.0.0.1:50151 > /tmp/innkeeper-bench-catalog.log 2>&1 &
    PIDS+=($!); SERVER=$!
    INNKEEPER__NODE__DATA_DIR="$DATA" INNKEEPER__CATALOG__ENDPOINT=http://127.0.0.1:50151 \
      INNKEEPER__BOOKING__ENDPOINT= \
      "$BIN" serve --target gateway,identity \
      --listen "$ADDR" --grpc-listen 127.0.0.1:50152 > /tmp/innkeeper-bench-gateway.log 2>&1 &
    PIDS+=($!); GATEWAY=$!
    wait_ready "http://127.0.0.1:18081"
    wait_ready "http://$ADDR"
    CEILING=/health/ready
    ;;
  *) echo "unknown shape $SHAPE (embedded|split)" >&2; exit 2 ;;
esac
echo "== ready after $(echo "$(date +%s.%N) - $START" | bc) s ($SHAPE)"
echo "== idle RSS (kB) of the catalog process: $(grep VmRSS "/proc/$SERVER/status")"

echo "== ceiling: GET $CEILING"
wrk -t2 -c64 -d"$DURATION" --latency "http://$ADDR$CEILING" | grep -E "Requests/sec|50%|99%|Non-2xx"
echo "== search: GET /api/v1/availability (random city, dates, party)"
wrk -t2 -c64 -d"$DURATION" --latency -s bench/search.lua "http://$ADDR" | grep -E "Requests/sec|50%|99%|Non-2xx"
echo "== RSS (kB) after load: catalog $(grep VmRSS "/proc/$SERVER/status")"
if [ "$SHAPE" = split ]; then echo "== gateway $(grep VmRSS "/proc/$GATEWAY/status")"; fi
