#!/usr/bin/env bash
# Per-call backend instructions (valgrind callgrind, deterministic) for the
# usage RPC, the clip trigger, their floors and candidate bodies.
#
#   scripts/callgrind-per-call.sh --only '^bulk_'    # bulk inserts only
#   scripts/callgrind-per-call.sh [--n1 50] [--n2 250] [--only REGEX] [--keep] [--mapped]
#
# --mapped also installs, with quota itself (QUOTA=path, default
# target/debug/quota), a rpc meter of quota.toml in the seed meter's shape
# (scripts/perf/mapped-credits.toml: public.users.credits_used, limit
# plan_limits_scrapes, monthly) and measures its function and its floor as
# `bench --meter` sends them (cases mapped_*), beside the seed's.
#
# Method: a throwaway PostgreSQL cluster (fsync off, autovacuum off) is
# loaded with the demo schema, sql/migrations/V*.sql and
# scripts/perf/variants.sql. Then its postmaster is restarted under
# `valgrind --tool=callgrind --trace-children=yes`, so every backend it
# forks writes its own instruction count when it exits. Each case is a
# pgbench script run by one client over one connection (`pgbench -n -c 1
# -t N`, extended protocol with `-M prepared` as PostgREST and sqlx use it,
# or `-M simple`), twice: with N1 and with N2 transactions. Connection
# start-up, catalog caches and the first plans cancel out in the difference:
#     per call = (Ir(backend, N2) - Ir(backend, N1)) / (N2 - N1)
# Cases run in a PostgREST-like transaction (BEGIN; one SELECT of
# set_config('role', ..., true) and set_config('request.jwt.claims',
# <~600-byte JSON>, true); the call; COMMIT) subtract the same transaction
# without the call, so the figure is the call's own cost, comparable with
# the bare floors.
# Before every run, VACUUM resets users, user_usage and clip_limits (no dead
# row versions left by earlier cases): the cost of an UPDATE depends on the
# page it lands on, and without the reset a case would pay for the HOT chains
# and pruning left behind by the cases before it. The bench users sit a few
# to a page (scripts/perf/variants.sql), so updates stay HOT.
#
# Output: one line per case, "case<TAB>instructions per call", then the
# ratios floor/case (1.00 = as cheap as the floor).
set -euo pipefail
source "$(dirname "$0")/perf/common.sh"
source "$(dirname "$0")/perf/bulk.sh"

N1=50 N2=250 ONLY=. KEEP=0 MAPPED=0
while [ $# -gt 0 ]; do
  case $1 in
    --n1) N1=$2; shift 2 ;;
    --n2) N2=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --mapped) MAPPED=1; shift ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) echo "callgrind-per-call: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "callgrind-per-call: valgrind not found (apt-get install valgrind)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/quota-callgrind.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
cleanup() { perf_stop "$WORK"; [ "$KEEP" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
perf_cluster "$WORK" "$PORT"
perf_bulk "$WORK" "$PORT"
if [ "$MAPPED" = 1 ]; then
  as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d postgres \
    -c 'ALTER TABLE public.users ADD COLUMN credits_used integer NOT NULL DEFAULT 0' >/dev/null
  "${QUOTA:-$REPO/target/debug/quota}" --database-url "postgres://postgres@localhost/postgres?host=$WORK&port=$PORT" \
    --config "$REPO/scripts/perf/mapped-credits.toml" migrate apply >/dev/null
fi
perf_stop "$WORK"
mkdir -p "$WORK/cg" "$WORK/scripts"
chown -R postgres "$WORK"
# The postmaster under callgrind; backends are forked (not exec'd), so each
# one is measured from its fork to its exit, in a file named after its pid.
as_pg valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$WORK/cg/cg.%p" \
  "$PGBIN/postgres" -D "$WORK/template" -c autovacuum=off >"$WORK/valgrind-server.log" 2>&1 &
for _ in $(seq 120); do
  as_pg "$PGBIN/pg_isready" -q -h "$WORK" -p "$PORT" && break
  sleep 1
done

U=22222222-2222-4222-8222-222222222222        # the demo's pro user
SR_CLAIMS=$(claims_json service_role "$U")
AU_CLAIMS=$(claims_json authenticated "$U")
# PostgREST: BEGIN, one SELECT of set_config()s (role, claims), the call, COMMIT.
ctx_sr="SELECT set_config('role', 'service_role', true), set_config('request.jwt.claims', '$SR_CLAIMS', true);"
ctx_au="SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '$AU_CLAIMS', true);"
ctx_au_sub="SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claim.sub', '$U', true), set_config('request.jwt.claim.role', 'authenticated', true);"

# ir MODE SCRIPT N: instructions of the backend that ran SCRIPT N times.
ir() {
  local mode=$1 script=$2 n=$3 f out uid=$U
  # simple protocol substitutes :uid as text into the query, prepared binds it
  [ "$mode" = simple ] && uid="'$U'"
  printf '%s\n' "$script" >"$WORK/scripts/case.sql"
  chown postgres "$WORK/scripts/case.sql"
  # Reset the tables, and wait until that backend's own count is written,
  # so that it is not mistaken for the measured one.
  local vpid
  vpid=$(as_pg "$PGBIN/psql" -X -q -At -h "$WORK" -p "$PORT" -U postgres -d postgres \
    -c 'VACUUM public.users, public.user_usage, public.clip_limits' -c 'SELECT pg_backend_pid()')
  for _ in $(seq 200); do
    grep -qs '^totals:' "$WORK/cg/cg.$vpid" && break
    sleep 0.1
  done
  find "$WORK/cg" -name 'cg.*' -newer "$WORK/valgrind-server.log" -exec grep -l '^totals:' {} + 2>/dev/null | xargs -r rm -f
  touch "$WORK/mark"
  sleep 0.1
  out=$(as_pg "$PGBIN/pgbench" -n -M "$mode" -c 1 -t "$n" -D uid="$uid" -h "$WORK" -p "$PORT" -U postgres \
    -f "$WORK/scripts/case.sql" postgres 2>&1) || { echo "callgrind-per-call: pgbench failed for: $script" >&2; echo "$out" >&2; exit 1; }
  # Backends write their file when they exit, just after pgbench
  # disconnects; pgbench may open a short extra connection, so take the
  # largest count among the new files.
  for _ in $(seq 100); do
    f=$(find "$WORK/cg" -name 'cg.*' -newer "$WORK/mark" -exec grep -l '^totals:' {} + 2>/dev/null || true)
    [ -n "$f" ] && break
    sleep 0.2
  done
  [ -n "$f" ] || { echo "callgrind-per-call: no callgrind output for: $script" >&2; exit 1; }
  sleep 1
  find "$WORK/cg" -name 'cg.*' -newer "$WORK/mark" -exec grep -h '^totals:' {} + | awk '{ print $2 }' | sort -n | tail -1
}

# per_call MODE SCRIPT: instructions per transaction in steady state
# (memoised, so the PostgREST transaction without the call runs once).
# Statements of 100 rows run a fifth as many times (DIV=5).
declare -A MEMO
DIV=1
per_call() {
  local key="$1|$2" a b n1=$((N1 / DIV)) n2=$((N2 / DIV))
  if [ -z "${MEMO[$key]:-}" ]; then
    a=$(ir "$1" "$2" "$n1")
    b=$(ir "$1" "$2" "$n2")
    MEMO[$key]=$(((b - a) / (n2 - n1)))
  fi
  PER_CALL=${MEMO[$key]}
}

declare -A R
# measure NAME MODE SCRIPT [BASELINE_SCRIPT]
measure() {
  local name=$1 v
  [[ $name =~ $ONLY ]] || return 0
  per_call "$2" "$3"
  v=$PER_CALL
  if [ $# -ge 4 ]; then
    per_call "$2" "$4"
    v=$((v - PER_CALL))
  fi
  R[$name]=$v
  printf '%s\t%s\n' "$name" "$v"
}

# call_cases NAME SQL [bare]: prepared and simple protocol, bare and (unless
# "bare") in PostgREST-like transactions as service_role, authenticated
# (claims JSON) and authenticated (older PostgREST's per-claim settings).
call_cases() {
  local name=$1 call="$2;" ctx label
  measure "$name/prepared/bare" prepared "$call"
  measure "$name/simple/bare" simple "$call"
  [ "${3:-}" = bare ] && return 0
  for label in sr au au_sub; do
    # variants that read only the claims JSON refuse per-claim callers
    [ "$label" = au_sub ] && [ "${3:-}" = json_only ] && continue
    case $label in sr) ctx=$ctx_sr ;; au) ctx=$ctx_au ;; au_sub) ctx=$ctx_au_sub ;; esac
    measure "$name/prepared/$label" prepared "BEGIN;
$ctx
$call
COMMIT;" "BEGIN;
$ctx
COMMIT;"
  done
}

# Floors.
call_cases update_floor 'UPDATE public.users SET usage_this_month = usage_this_month + 1 WHERE id = :uid AND usage_this_month < plan_limits_scrapes RETURNING usage_this_month' bare
call_cases insert_floor 'INSERT INTO perf.clips_plain (user_id) VALUES (:uid)' bare
# The minimal correct floor: one statement that inserts the clip and, under
# the counter's row lock, checks and increments it (no trigger, no PL/pgSQL).
call_cases insert_min_correct "WITH lim AS MATERIALIZED (SELECT COALESCE((SELECT cl.monthly_limit FROM public.users AS u JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier WHERE u.id = :uid), (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free')) AS monthly_limit), c AS (INSERT INTO perf.clips_plain (user_id) VALUES (:uid) RETURNING user_id) INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start) SELECT c.user_id, 1, (date_trunc('month', now() AT TIME ZONE 'UTC'))::date FROM c, lim WHERE lim.monthly_limit > 0 ON CONFLICT (user_id) DO UPDATE SET clips_this_month = CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 1 ELSE COALESCE(uu.clips_this_month, 0) + 1 END, clips_period_start = excluded.clips_period_start WHERE (CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 0 ELSE COALESCE(uu.clips_this_month, 0) END) < (SELECT lim.monthly_limit FROM lim)" bare

# RPC: installed (sql/migrations) and candidates.
for f in public.increment_usage_if_allowed perf.rpc_v2 perf.rpc_v2_sp perf.rpc_v4draft perf.rpc_json_always \
         perf.rpc_lean perf.rpc_lean_into perf.rpc_lean2 perf.rpc_noguard; do
  call_cases "${f#*.}" "SELECT * FROM $f(:uid)"
done
for f in perf.rpc_role_jsonb perf.rpc_role_json; do
  call_cases "${f#*.}" "SELECT * FROM $f(:uid)" json_only
done
call_cases rpc_sql_happy 'SELECT * FROM perf.rpc_sql_happy(:uid)' bare
call_cases rpc_empty 'SELECT * FROM perf.rpc_empty(:uid)' bare

# Triggers: the installed one and the candidates, each on its clips copy.
for t in trg_installed trg_v3_before trg_v3_after trg_cte_before trg_cte_after trg_lean_before trg_lean_after \
         trg_ctelean_after trg_v3lean_after trg_v3lean2_after trg_nolookup_after trg_empty_before trg_empty_after; do
  call_cases "$t" "INSERT INTO perf.clips_$t (user_id) VALUES (:uid)" bare
done

# Bulk inserts (scripts/perf/bulk.sql): one INSERT statement of 1 and of
# 100 rows into twins of public.clips with the same foreign key: no trigger
# (plain), V5's row trigger (row), the installed statement trigger (stmt),
# a statement trigger that only reads its transition table (read), and the
# statement-level candidates.
for t in plain row stmt read charge_check lims probe probe_nocount; do
  DIV=1
  measure "bulk_${t}_1/prepared" prepared "INSERT INTO perf.bulk_$t (user_id) VALUES (:uid);"
  DIV=5
  measure "bulk_${t}_100/prepared" prepared "INSERT INTO perf.bulk_$t (user_id) SELECT :uid::uuid FROM pg_catalog.generate_series(1, 100);"
done
DIV=1
# A mapped rpc meter of the seed's shape (--mapped), as `bench --meter`
# sends it (simple protocol, `SELECT allowed`), beside the seed's function
# sent the same way.
if [ "$MAPPED" = 1 ]; then
  # The floor as sql/meters/bench_floor_row_column.sql renders it.
  call_cases mapped_update_floor 'UPDATE "public"."users" SET "credits_used" = "credits_used" + 1 WHERE "id" = :uid AND "credits_used" < "plan_limits_scrapes" RETURNING "credits_used"' bare
  # The same with an alias and `counter + 1 <= limit` (the first template).
  call_cases mapped_floor_alias_le 'UPDATE public.users AS s SET credits_used = s.credits_used + 1 WHERE s.id = :uid AND s.credits_used + 1 <= s.plan_limits_scrapes RETURNING s.credits_used' bare
  call_cases mapped_credits 'SELECT allowed FROM public.spend_credits(:uid, 1)' bare
  call_cases mapped_seed_allowed 'SELECT allowed FROM public.increment_usage_if_allowed(:uid)' bare
fi

# Ratios (floor instructions / case instructions; 1.0 = as cheap as the floor).
echo
for k in $(printf '%s\n' "${!R[@]}" | sort); do
  floor=
  case $k in
    update_floor/*|mapped_update_floor/*) ;;
    mapped_credits/*|mapped_floor_alias_le/*) floor=${R[mapped_update_floor/${k#*/}]:-} ;;
    mapped_seed_allowed/*) floor=${R[update_floor/${k#*/}]:-} ;;
    *rpc*/*|increment_usage_if_allowed/*)
      proto_ctx=${k#*/}; floor=${R[update_floor/${proto_ctx%%/*}/bare]:-} ;;
    bulk_plain_*) ;;
    bulk_*_1/*) floor=${R[bulk_plain_1/${k#*/}]:-} ;;
    bulk_*_100/*) floor=${R[bulk_plain_100/${k#*/}]:-} ;;
    trg_*/*|insert_min_correct/*) floor=${R[insert_floor/${k#*/}]:-} ;;
  esac
  [ -n "$floor" ] && printf '%s\tratio %s\n' "$k" "$(awk -v f="$floor" -v c="${R[$k]}" 'BEGIN { printf "%.2f", f / c }')"
done
