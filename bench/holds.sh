#!/usr/bin/env bash
# Hold throughput under contention on PostgreSQL: the real PgCatalogStore (examples/hold_bench.rs)
# beside pgbench running the same SQL (bench/holds.pgbench.sql), at the same concurrency, each on
# a fresh database. One "hold" = one hold placed and released (two transactions).
#
#   bench/holds.sh [SECONDS] [ROOM_TYPES] [CONCURRENCY...]     e.g. bench/holds.sh 20 4 16 64
#
# Needs: PostgreSQL on 127.0.0.1:5432 (trust), psql and pgbench (postgresql-client), cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN="${1:-20}"
ROOM_TYPES="${2:-4}"
shift $(( $# > 2 ? 2 : $# ))
LEVELS="${*:-16 64}"
PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGHOST PGPORT PGUSER
DB=innkeeper_holdbench
URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB"
LOGS="$(mktemp -d /tmp/holdbench.XXXXXX)"
trap 'rm -rf "$LOGS"' EXIT

cargo build --release -q -p innkeeper-catalog --example hold_bench
BIN="${CARGO_TARGET_DIR:-target}/release/examples/hold_bench"

fresh_db() {
  psql -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" > /dev/null
}

# p50 and p99 (ms) of the per-transaction latencies pgbench logged (3rd field, microseconds).
pgbench_percentiles() {
  cat "$LOGS"/pgbench_log.* | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1 }
    END { if (NR == 0) { print "no samples"; exit }
          i50 = int((NR - 1) * 0.50 + 0.5) + 1; i99 = int((NR - 1) * 0.99 + 0.5) + 1
          printf "pgbench: cycle    p50=%.2f ms p99=%.2f ms\n", v[i50] / 1000, v[i99] / 1000 }'
}

echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "postgres: $(psql -At -d postgres -c 'SHOW server_version')"
for c in $LEVELS; do
  echo "== $c concurrent, $ROOM_TYPES hot room types, ${SECONDS_RUN}s (after a 2 s warm-up)"
  fresh_db
  "$BIN" "$URL" "$c" "$SECONDS_RUN" "$ROOM_TYPES"
  # Same schema and seed as the store run left; pgbench adds its own holds beside them.
  rm -f "$LOGS"/pgbench_log.*
  (cd "$LOGS" && pgbench -n -M prepared -c "$c" -j 2 -T "$SECONDS_RUN" \
      -D room_types="$ROOM_TYPES" -f "$OLDPWD/bench/holds.pgbench.sql" -l --log-prefix=pgbench_log \
      "$DB" 2>&1) | grep -E "^tps|latency average|failed" | sed 's/^/pgbench: /'
  pgbench_percentiles
done
psql -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" > /dev/null
