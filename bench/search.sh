#!/usr/bin/env bash
# Availability-search load test (embedded shape) beside its ceiling, the trivial JSON endpoint
# /api/v1/ping of the same gateway, measured with the same tool (wrk) in the same run.
#
#   bench/search.sh [HOTELS] [DURATION]      e.g. bench/search.sh 1000 15s
#
# Needs: a release build (cargo build --release -p innkeeper) and wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
HOTELS="${1:-1000}"
DURATION="${2:-15s}"
BIN="${CARGO_TARGET_DIR:-target}/release/innkeeper"
DATA="${BENCH_DATA:-/tmp/innkeeper-bench-$HOTELS}"
ADDR=127.0.0.1:18080
export INNKEEPER__TELEMETRY__LOG_FORMAT=json RUST_LOG=warn

if [ ! -f "$DATA/catalog.db" ]; then
  echo "seeding $HOTELS hotels x 5 room types x 365 nights into $DATA"
  INNKEEPER__NODE__DATA_DIR="$DATA" INNKEEPER__NODE__GRPC_LISTEN="" \
    "$BIN" seed --bench --hotels "$HOTELS" --room-types 5 --nights 365
fi

"$BIN" up --data-dir "$DATA" --listen "$ADDR" > /tmp/innkeeper-bench-up.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://$ADDR/health/ready" > /dev/null && break; sleep 0.1; done

echo "== ceiling: GET /api/v1/ping"
wrk -t2 -c64 -d"$DURATION" --latency "http://$ADDR/api/v1/ping" | grep -E "Requests/sec|50%|99%"
echo "== search: GET /api/v1/availability (random city, dates, party)"
wrk -t2 -c64 -d"$DURATION" --latency -s bench/search.lua "http://$ADDR" | grep -E "Requests/sec|50%|99%|Non-2xx"
echo "== idle RSS (kB) of innkeeper up"
grep VmRSS "/proc/$PID/status"
