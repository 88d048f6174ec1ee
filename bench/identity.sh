#!/usr/bin/env bash
# Identity figures: login throughput and latency (argon2id, 19 MiB, t=2, p=1, dominates) and
# bearer-token verification, beside the ceiling, measured with the same tool (wrk) in one run.
#
#   bench/identity.sh [DURATION] [PROFILE]        e.g. bench/identity.sh 10s release
#
# Runs `innkeeper up` (embedded: identity in the gateway's process, SQLite) on a fresh data dir:
#   ceiling   GET  /api/v1/ping, no token
#   verify    GET  /api/v1/ping with `Authorization: Bearer` (the EdDSA check alone, keys cached)
#   me        GET  /api/v1/me with the token (the check plus the identity read)
#   login     POST /api/v1/auth/login as the demo guest (one argon2id verify + token signing
#             + refresh-token write), 8 connections: identity hashes at most two per core at
#             once, more connections only queue
#
# Needs: a build of the profile (cargo build --release -p innkeeper), wrk and curl, jq.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10s}"
PROFILE="${2:-release}"
BIN="${CARGO_TARGET_DIR:-target}/$PROFILE/innkeeper"
ADDR="${BENCH_ADDR:-127.0.0.1:18090}"
DATA="$(mktemp -d /tmp/innkeeper-bench-identity.XXXXXX)"
export INNKEEPER__TELEMETRY__LOG_FORMAT=json RUST_LOG=warn INNKEEPER__TELEMETRY__LOG_FILTER=warn
# One client IP makes every request here: the per-IP quotas (20 logins a minute) would measure
# the limiter.
export INNKEEPER__GATEWAY__RATE_LIMIT__ENABLED=false

[ -x "$BIN" ] || { echo "no $BIN: cargo build --profile $PROFILE -p innkeeper" >&2; exit 2; }
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT

"$BIN" up --data-dir "$DATA" --listen "$ADDR" > "$DATA.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do curl -fs "http://$ADDR/health/ready" > /dev/null && break; sleep 0.1; done
curl -fs "http://$ADDR/health/ready" > /dev/null || { echo "not ready; see $DATA.log" >&2; exit 1; }

TOKEN=$(curl -fs -X POST "http://$ADDR/api/v1/auth/login" -H 'content-type: application/json' \
  -d @<(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" bench/login.lua) | jq -r .access_token)
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || { echo "login failed" >&2; exit 1; }
curl -fs -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/v1/me" > /dev/null \
  || { echo "the token does not verify" >&2; exit 1; }

echo "== $PROFILE build, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
summary() { grep -E "requests in|Requests/sec|50%|99%|Non-2xx|Socket errors"; }
echo "== ceiling: GET /api/v1/ping (no token), 64 connections"
wrk -t2 -c64 -d"$DURATION" --latency "http://$ADDR/api/v1/ping" | summary
echo "== verify: GET /api/v1/ping with a bearer token, 64 connections"
wrk -t2 -c64 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" \
  "http://$ADDR/api/v1/ping" | summary
echo "== me: GET /api/v1/me with a bearer token, 64 connections"
wrk -t2 -c64 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" \
  "http://$ADDR/api/v1/me" | summary
echo "== login: POST /api/v1/auth/login, 8 connections"
wrk -t2 -c8 -d"$DURATION" --latency -s bench/login.lua "http://$ADDR/api/v1/auth/login" | summary
echo "== RSS (kB) after load: $(grep VmRSS "/proc/$SERVER/status")"
