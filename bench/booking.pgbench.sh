#!/usr/bin/env bash
# pgbench running the SQL of one booking (bench/booking.pgbench.sql) at 64 clients on a copy of
# the benchmark's catalog database with the booking tables added (bench/booking.sh runs it
# after the services stopped; it needs their ink_bench_catalog database).
#
#   bench/booking.pgbench.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-20s}"
SECONDS_RUN="${DURATION%s}"
PGHOST="${PGHOST:-/var/run/postgresql}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGHOST PGPORT PGUSER
LOGS="$(mktemp -d /tmp/bookingpgbench.XXXXXX)"
trap 'rm -rf "$LOGS"' EXIT
psql -q -d postgres -c "DROP DATABASE IF EXISTS ink_bench_sql WITH (FORCE)" \
  -c "CREATE DATABASE ink_bench_sql TEMPLATE ink_bench_catalog" > /dev/null
psql -q -d ink_bench_sql -f crates/booking/migrations/postgres/0001_booking.sql > /dev/null
ROOM_TYPES=$(psql -At -d ink_bench_sql -c "SELECT count(*) FROM room_types")
psql -q -d postgres -c CHECKPOINT  # as bench/booking.sh does before each phase
(cd "$LOGS" && pgbench -n -M prepared -c 64 -j 2 -T "$SECONDS_RUN" -D room_types="$ROOM_TYPES" \
    -f "$OLDPWD/bench/booking.pgbench.sql" -l --log-prefix=pgbench_log ink_bench_sql 2>&1) \
  | grep -E "^tps|latency average|failed" | sed 's/^/pgbench: /'
cat "$LOGS"/pgbench_log.* | awk '{print $3}' | sort -n | awk '
  { v[NR] = $1 }
  END { if (NR == 0) { print "no samples"; exit }
        i50 = int((NR - 1) * 0.50 + 0.5) + 1; i99 = int((NR - 1) * 0.99 + 0.5) + 1
        printf "pgbench: booking  p50=%.2f ms p99=%.2f ms (%d bookings)\n", v[i50] / 1000, v[i99] / 1000, NR }'
