#!/usr/bin/env bash
# pgbench running the SQL of one booking (bench/booking.pgbench.sql) at 64 clients on a copy of
# the benchmark's catalog database with the booking tables added and no room held or sold
# (bench/booking.sh runs it after the services stopped; it needs their ink_bench_catalog
# database).
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
# The rooms as the services found them: none held or sold (the copy has their run's bookings).
psql -q -d ink_bench_sql -c "UPDATE room_nights SET held = 0, sold = 0" -c "TRUNCATE holds" -c VACUUM
ROOM_TYPES=$(psql -At -d ink_bench_sql -c "SELECT count(*) FROM room_types")
psql -q -d postgres -c CHECKPOINT  # as bench/booking.sh does before each phase
# A client that loses the race for a night's last room gets the counters' check error where
# the services answer 409; pgbench cannot go on with that client (it stops it and exits 2), so
# the run reports how many it lost and its figure is of the clients left.
STATUS=0
(cd "$LOGS" && pgbench -n -M prepared -c 64 -j 2 -T "$SECONDS_RUN" -D room_types="$ROOM_TYPES" \
    -f "$OLDPWD/bench/booking.pgbench.sql" -l --log-prefix=pgbench_log ink_bench_sql \
    > pgbench.out 2> pgbench.err) || STATUS=$?
grep -E "^tps|latency average|failed" "$LOGS/pgbench.out" | sed 's/^/pgbench: /'
ABORTED=$(grep -c "aborted" "$LOGS/pgbench.err" || true)
if [ "$STATUS" -ne 0 ]; then
  if [ "$ABORTED" -eq 0 ]; then cat "$LOGS/pgbench.err" >&2; exit "$STATUS"; fi
  echo "pgbench: $ABORTED of 64 clients stopped on a sold-out night's race"
fi
cat "$LOGS"/pgbench_log.* | awk '{print $3}' | sort -n | awk '
  { v[NR] = $1 }
  END { if (NR == 0) { print "no samples"; exit }
        i50 = int((NR - 1) * 0.50 + 0.5) + 1; i99 = int((NR - 1) * 0.99 + 0.5) + 1
        printf "pgbench: booking  p50=%.2f ms p99=%.2f ms (%d bookings)\n", v[i50] / 1000, v[i99] / 1000, NR }'
