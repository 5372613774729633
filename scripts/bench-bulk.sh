#!/usr/bin/env bash
# Bulk inserts: the clip trigger's cost per INSERT statement, row shape (V5's
# function, FOR EACH ROW, as V4-V6 install it) vs statement shape (the
# installed V7 function, FOR EACH STATEMENT with a transition table), each
# as a ratio to the same INSERT into a twin table without a trigger (same
# columns, indexes and foreign key), at 1 row and at 100 rows per statement.
#
#   scripts/bench-bulk.sh [--seconds 5] [--rounds 5] [--clients 4] [--threads 2] [--keep]
#
# Run as root (the server then runs as `postgres`) or as a user that can run
# initdb. A throwaway cluster (fsync off) is loaded like
# scripts/callgrind-per-call.sh does, plus scripts/perf/bulk.sql. Every
# scenario is `pgbench -n -M prepared -c C -j J -T S`, each client inserting
# for its own user (no lock waits between clients):
#   1 row:    INSERT INTO perf.bulk_<t> (user_id) VALUES (<uid>)
#   100 rows: INSERT INTO perf.bulk_<t> (user_id) SELECT <uid> FROM generate_series(1, 100)
# One round runs every scenario once, in a fixed order, after emptying the
# tables and resetting the counters (VACUUM), so each round starts alike; a
# scenario's ratio is its tps over the plain table's tps at the same size in
# the same round, and the median over rounds is reported, so load drifting
# on a shared machine hits both sides of a ratio alike.
# Scenarios: plain (the floor), row (V5), stmt (installed: V7), read (a
# statement trigger that only counts its transition table: the floor of any
# statement-level design).
set -euo pipefail
source "$(dirname "$0")/perf/common.sh"
source "$(dirname "$0")/perf/bulk.sh"

SECONDS_=5 ROUNDS=5 CLIENTS=4 THREADS=2 KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "bench-bulk: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v pgbench >/dev/null || [ -x "$PGBIN/pgbench" ] || { echo "bench-bulk: pgbench not found (apt-get install postgresql-contrib or postgresql-15)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/quota-bulk.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
cleanup() { perf_stop "$WORK"; [ "$KEEP" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
perf_cluster "$WORK" "$PORT"
perf_bulk "$WORK" "$PORT"

# Client n works on user 32n, alone on its heap pages (variants.sql).
UID_EXPR="('00000000-0000-4000-8000-' || lpad((:client_id::int * 32)::text, 12, '0'))::uuid"
S="$WORK/scripts"; mkdir -p "$S"
declare -a NAMES
for size in 1 100; do
  for t in plain row stmt read; do
    n="${t}_$size"
    NAMES+=("$n")
    if [ "$size" = 1 ]; then
      printf 'INSERT INTO perf.bulk_%s (user_id) VALUES (%s);\n' "$t" "$UID_EXPR" >"$S/$n.sql"
    else
      printf 'INSERT INTO perf.bulk_%s (user_id) SELECT %s FROM pg_catalog.generate_series(1, %s);\n' "$t" "$UID_EXPR" "$size" >"$S/$n.sql"
    fi
  done
done
chown -R postgres "$WORK" 2>/dev/null || true
psql_() { as_pg "$PGBIN/psql" -X -q -h "$WORK" -p "$PORT" -U postgres -d postgres "$@"; }

declare -A TPS
for ((r = 1; r <= ROUNDS; r++)); do
  psql_ -c 'TRUNCATE perf.bulk_plain, perf.bulk_row, perf.bulk_stmt, perf.bulk_read' \
        -c 'UPDATE public.user_usage SET clips_this_month = 0' \
        -c 'VACUUM public.users, public.user_usage, public.clip_limits' >/dev/null
  for n in "${NAMES[@]}"; do
    out=$(as_pg "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_" \
      -h "$WORK" -p "$PORT" -U postgres -f "$S/$n.sql" postgres 2>&1) || { echo "$out" >&2; exit 1; }
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)
    if grep -q 'failed transactions' <<<"$out" && ! grep -q '^number of failed transactions: 0 ' <<<"$out"; then
      echo "bench-bulk: $n had failed transactions" >&2; echo "$out" >&2; exit 1
    fi
    TPS[$n,$r]=$tps
    printf 'round %d\t%s\t%s statements/s\n' "$r" "$n" "$tps" >&2
  done
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
printf 'scenario\tmedian statements/s\tmedian ratio to plain\tper-round ratios\n'
for n in "${NAMES[@]}"; do
  m=$(for ((r = 1; r <= ROUNDS; r++)); do echo "${TPS[$n,$r]}"; done | median)
  f="plain_${n#*_}"
  if [ "$n" = "$f" ]; then
    printf '%s\t%.0f\t-\t-\n' "$n" "$m"
    continue
  fi
  ratios=$(for ((r = 1; r <= ROUNDS; r++)); do awk -v a="${TPS[$n,$r]}" -v b="${TPS[$f,$r]}" 'BEGIN { printf "%.3f\n", a / b }'; done)
  printf '%s\t%.0f\t%s\t%s\n' "$n" "$m" "$(median <<<"$ratios")" "$(tr '\n' ' ' <<<"$ratios")"
done
