#!/usr/bin/env bash
# Throughput ratios at saturation (pgbench), interleaved, median of rounds:
# the usage RPC against the bare UPDATE floor, the clip trigger against the
# plain INSERT floor, installed bodies and candidates side by side.
#
#   scripts/pgbench-ratio.sh [--seconds 10] [--rounds 3] [--clients 8] [--threads 2]
#                            [--rpc perf.rpc_lean] [--trigger trg_v3lean2_after] [--keep]
#
# A throwaway cluster (fsync off) is loaded like scripts/callgrind-per-call.sh
# does. Every scenario is `pgbench -n -M prepared -c C -j J -T S`, each client
# working on its own user (no lock waits between clients). Each round runs
# every scenario once, in the same order; a scenario's ratio is computed per
# round against the floor measured in that round, and the median over rounds
# is reported (with the median ops/s).
# PostgREST-like scenarios run BEGIN; SELECT set_config('role', ..., true),
# set_config('request.jwt.claims', <~600-byte JSON>, true); <call>; COMMIT;
# and are compared with the floor UPDATE inside the same transaction shape.
set -euo pipefail
source "$(dirname "$0")/perf/common.sh"

SECONDS_=10 ROUNDS=3 CLIENTS=8 THREADS=2 RPC=perf.rpc_lean TRG=trg_v3lean2_after KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rpc) RPC=$2; shift 2 ;;
    --trigger) TRG=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "pgbench-ratio: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d /tmp/quota-pgbench.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
cleanup() { perf_stop "$WORK"; [ "$KEEP" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
perf_cluster "$WORK" "$PORT"

# Client n works on user 32n, alone on its heap pages (variants.sql).
UID_EXPR="('00000000-0000-4000-8000-' || lpad((:client_id::int * 32)::text, 12, '0'))::uuid"
# service_role's claims name a fixed sub (not checked); authenticated's
# claims carry the client's own user as sub, substituted per transaction.
S="$WORK/scripts"; mkdir -p "$S"
FLOOR="UPDATE public.users SET usage_this_month = usage_this_month + 1 WHERE id = $UID_EXPR AND usage_this_month < plan_limits_scrapes RETURNING usage_this_month;"
sr_ctx="SELECT set_config('role', 'service_role', true), set_config('request.jwt.claims', '$(claims_json service_role 00000000-0000-4000-8000-000000000000)', true);"
au_ctx="SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', replace('$(claims_json authenticated __SUB__)', '__SUB__', $UID_EXPR::text), true);"

declare -a NAMES
scenario() { NAMES+=("$1"); printf '%s\n' "$2" >"$S/$1.sql"; }
scenario update_floor "$FLOOR"
scenario rpc_installed "SELECT * FROM public.increment_usage_if_allowed($UID_EXPR);"
scenario rpc_candidate "SELECT * FROM $RPC($UID_EXPR);"
scenario sr_update_floor "BEGIN;
$sr_ctx
$FLOOR
COMMIT;"
scenario sr_rpc_installed "BEGIN;
$sr_ctx
SELECT * FROM public.increment_usage_if_allowed($UID_EXPR);
COMMIT;"
scenario sr_rpc_candidate "BEGIN;
$sr_ctx
SELECT * FROM $RPC($UID_EXPR);
COMMIT;"
scenario au_rpc_installed "BEGIN;
$au_ctx
SELECT * FROM public.increment_usage_if_allowed($UID_EXPR);
COMMIT;"
scenario au_rpc_candidate "BEGIN;
$au_ctx
SELECT * FROM $RPC($UID_EXPR);
COMMIT;"
scenario insert_floor "INSERT INTO perf.clips_plain (user_id) VALUES ($UID_EXPR);"
scenario trg_installed "INSERT INTO perf.clips_trg_installed (user_id) VALUES ($UID_EXPR);"
scenario trg_candidate "INSERT INTO perf.clips_$TRG (user_id) VALUES ($UID_EXPR);"
chown -R postgres "$WORK" 2>/dev/null || true

floor_of() {
  case $1 in
    update_floor|insert_floor|sr_update_floor) echo "" ;;
    rpc_*) echo update_floor ;;
    sr_*|au_*) echo sr_update_floor ;;
    trg_*) echo insert_floor ;;
  esac
}

declare -A TPS
for ((r = 1; r <= ROUNDS; r++)); do
  for n in "${NAMES[@]}"; do
    out=$(as_pg "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_" \
      -h "$WORK" -p "$PORT" -U postgres -f "$S/$n.sql" postgres 2>&1) || { echo "$out" >&2; exit 1; }
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)
    if ! grep -q '^number of failed transactions: 0 ' <<<"$out" && grep -q 'failed transactions' <<<"$out"; then
      echo "pgbench-ratio: $n had failed transactions" >&2; echo "$out" >&2; exit 1
    fi
    TPS[$n,$r]=$tps
    printf 'round %d\t%s\t%s tps\n' "$r" "$n" "$tps" >&2
  done
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
printf 'scenario\tmedian ops/s\tfloor\tmedian ratio\tper-round ratios\n'
for n in "${NAMES[@]}"; do
  f=$(floor_of "$n")
  m=$(for ((r = 1; r <= ROUNDS; r++)); do echo "${TPS[$n,$r]}"; done | median)
  if [ -z "$f" ]; then
    printf '%s\t%.0f\t-\t-\t-\n' "$n" "$m"
    continue
  fi
  ratios=$(for ((r = 1; r <= ROUNDS; r++)); do awk -v a="${TPS[$n,$r]}" -v b="${TPS[$f,$r]}" 'BEGIN { printf "%.3f\n", a / b }'; done)
  printf '%s\t%.0f\t%s\t%s\t%s\n' "$n" "$m" "$f" "$(median <<<"$ratios")" "$(tr '\n' ' ' <<<"$ratios")"
done
