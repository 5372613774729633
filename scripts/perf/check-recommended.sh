#!/usr/bin/env bash
# Checks that the installed bodies (sql/migrations, newest version) keep the
# product contract on a throwaway PostgreSQL cluster: the cross-user guard on every JWT path, limits,
# month rollover, unknown user, 23514 + DETAIL, AFTER INSERT charging only
# inserted rows (ON CONFLICT DO NOTHING, row level security), and exactly-k
# admissions under real concurrent connections. Exit 1 on the first failure.
#
#   scripts/perf/check-recommended.sh                       # the migrations
#   RECOMMENDED=candidate.sql scripts/perf/check-recommended.sh  # a candidate body on top
set -euo pipefail
source "$(dirname "$0")/common.sh"
WORK=$(mktemp -d /tmp/quota-check-rec.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
cleanup() { perf_stop "$WORK"; rm -rf "$WORK"; }
trap cleanup EXIT
PERF_EXTRA_SQL=${RECOMMENDED-} perf_cluster "$WORK" "$PORT" 2>/dev/null

FAILS=0
psql_() { as_pg "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -h "$WORK" -p "$PORT" -U postgres -d postgres "$@"; }
# expect NAME WANT SQL: WANT is the output, or "ERR:<sqlstate>"
expect() {
  local name=$1 want=$2 sql=$3 got
  if got=$(psql_ -c '\set VERBOSITY sqlstate' -c "$sql" 2>&1); then :; else
    got="ERR:$(grep -o 'ERROR:  [0-9A-Z]\{5\}' <<<"$got" | head -1 | cut -c9-)"
  fi
  got=$(tail -1 <<<"$got")
  if [ "$got" = "$want" ]; then
    printf 'ok   %s\n' "$name"
  else
    printf 'FAIL %s: want %s, got %s\n' "$name" "$want" "$got"
    FAILS=$((FAILS + 1))
  fi
}

A=11111111-1111-4111-8111-111111111111   # free, limit 5
B=22222222-2222-4222-8222-222222222222   # pro
CL_A=$(claims_json authenticated "$A")
CL_B=$(claims_json authenticated "$B")
NOSUB='{"role": "authenticated", "aud": "authenticated"}'
reset="UPDATE public.users SET usage_this_month = 0, plan_limits_scrapes = 5, usage_period_start = date_trunc('month', now() AT TIME ZONE 'UTC')::date;"
call="SELECT allowed FROM public.increment_usage_if_allowed('$A')"
tx() { echo "BEGIN; $reset $1 $call; ROLLBACK;"; }

# The guard.
expect "direct session, any user"            t        "$(tx '')"
expect "service_role, someone else's claims"  t        "$(tx "SELECT set_config('role','service_role',true), set_config('request.jwt.claims','$CL_B',true);")"
expect "authenticated, own sub"               t        "$(tx "SELECT set_config('role','authenticated',true), set_config('request.jwt.claims','$CL_A',true);")"
expect "authenticated, own sub upper case"    t        "$(tx "SELECT set_config('role','authenticated',true), set_config('request.jwt.claims',replace('$CL_A','$A',upper('$A')),true);")"
expect "authenticated, other sub"             ERR:42501 "$(tx "SELECT set_config('role','authenticated',true), set_config('request.jwt.claims','$CL_B',true);")"
expect "authenticated, claims without sub"    ERR:42501 "$(tx "SELECT set_config('role','authenticated',true), set_config('request.jwt.claims','$NOSUB',true);")"
expect "authenticated, no JWT at all"         ERR:42501 "$(tx "SELECT set_config('role','authenticated',true);")"
expect "per-claim sub, own"                   t        "$(tx "SELECT set_config('role','authenticated',true), set_config('request.jwt.claim.sub','$A',true);")"
expect "per-claim sub, other"                 ERR:42501 "$(tx "SELECT set_config('role','authenticated',true), set_config('request.jwt.claim.sub','$B',true);")"
expect "per-claim other wins over own JSON"   ERR:42501 "$(tx "SELECT set_config('role','authenticated',true), set_config('request.jwt.claim.sub','$B',true), set_config('request.jwt.claims','$CL_A',true);")"
expect "no role switched, other sub in JSON"  ERR:42501 "$(tx "SELECT set_config('request.jwt.claims','$CL_B',true);")"
expect "no role switched, only claim.role"    ERR:42501 "$(tx "SELECT set_config('request.jwt.claim.role','authenticated',true);")"
expect "anon, other sub"                      ERR:42501 "BEGIN; $reset GRANT EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) TO anon; SELECT set_config('role','anon',true), set_config('request.jwt.claims','$CL_B',true); $call; ROLLBACK;"
expect "custom role inheriting authenticated" ERR:42501 "BEGIN; $reset CREATE ROLE perf_custom NOLOGIN IN ROLE authenticated; SELECT set_config('role','perf_custom',true), set_config('request.jwt.claims','$CL_B',true); $call; ROLLBACK;"
expect "invalid claims JSON fails closed"     ERR:22P02 "$(tx "SELECT set_config('role','authenticated',true), set_config('request.jwt.claims','{not json',true);")"

# Limits, periods, unknown user.
expect "at the limit: refused, usage kept"    "f|5|5"  "BEGIN; $reset UPDATE public.users SET usage_this_month = 5 WHERE id = '$A'; SELECT allowed, new_usage, effective_limit FROM public.increment_usage_if_allowed('$A'); ROLLBACK;"
expect "refused changes nothing"              5        "BEGIN; $reset UPDATE public.users SET usage_this_month = 5 WHERE id = '$A'; $call; SELECT usage_this_month FROM public.users WHERE id = '$A'; ROLLBACK;"
expect "NULL limit fails closed"              f        "BEGIN; $reset UPDATE public.users SET plan_limits_scrapes = NULL WHERE id = '$A'; $call; ROLLBACK;"
expect "negative limit fails closed"          f        "BEGIN; $reset UPDATE public.users SET plan_limits_scrapes = -1 WHERE id = '$A'; $call; ROLLBACK;"
expect "new month resets to 1"                "t|1"    "BEGIN; $reset UPDATE public.users SET usage_this_month = 5, usage_period_start = '2000-01-01' WHERE id = '$A'; SELECT allowed, new_usage FROM public.increment_usage_if_allowed('$A'); ROLLBACK;"
expect "unknown user"                         ERR:P0002 "SELECT * FROM public.increment_usage_if_allowed('99999999-9999-4999-8999-999999999999');"

# The trigger.
creset="UPDATE public.clip_limits SET monthly_limit = CASE tier WHEN 'free' THEN 3 ELSE 1000 END; DELETE FROM public.user_usage WHERE user_id = '$A';"
ins="INSERT INTO public.clips (user_id) VALUES ('$A');"
used="SELECT clips_this_month FROM public.user_usage WHERE user_id = '$A';"
expect "trigger is AFTER INSERT FOR EACH STATEMENT (V7)" "AFTER INSERT ON public.clips REFERENCING NEW TABLE AS inserted_clips FOR EACH STATEMENT" \
  "SELECT substring(pg_get_triggerdef(oid) from 'AFTER INSERT ON public.clips REFERENCING NEW TABLE AS inserted_clips FOR EACH STATEMENT') FROM pg_trigger WHERE tgname = 'enforce_clip_limit_trigger' AND tgrelid = 'public.clips'::regclass;"
expect "first clip creates the counter row"   1        "BEGIN; $creset $ins $used ROLLBACK;"
expect "third clip admitted"                  3        "BEGIN; $creset $ins $ins $ins $used ROLLBACK;"
expect "fourth clip: 23514"                   ERR:23514 "BEGIN; $creset $ins $ins $ins $ins ROLLBACK;"
expect "message and DETAIL"                   "Clip limit reached: 3 of 3 clips used this month|limit=3 usage=3 user_id=$A" \
  "BEGIN; $creset $ins $ins $ins DO \$\$ BEGIN INSERT INTO public.clips (user_id) VALUES ('$A'); EXCEPTION WHEN check_violation THEN DECLARE m text; d text; BEGIN GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL; CREATE TEMP TABLE r AS SELECT m || '|' || d AS v; END; END \$\$; SELECT v FROM r; ROLLBACK;"
expect "failed insert leaves the counter"     3        "BEGIN; $creset $ins $ins $ins DO \$\$ BEGIN $ins EXCEPTION WHEN check_violation THEN NULL; END \$\$; $used ROLLBACK;"
expect "unknown tier gets the free limit"     ERR:23514 "BEGIN; $creset UPDATE public.users SET subscription_tier = 'gold' WHERE id = '$A'; $ins $ins $ins $ins ROLLBACK;"
expect "limit 0 admits nothing"               ERR:23514 "BEGIN; $creset UPDATE public.clip_limits SET monthly_limit = 0 WHERE tier = 'free'; $ins ROLLBACK;"
expect "no free row fails closed"             ERR:23514 "BEGIN; $creset UPDATE public.users SET subscription_tier = 'gold' WHERE id = '$A'; DELETE FROM public.clip_limits WHERE tier = 'free'; $ins ROLLBACK;"
expect "new month resets the clip counter"    1        "BEGIN; $creset $ins $ins $ins UPDATE public.user_usage SET clips_period_start = '2000-01-01' WHERE user_id = '$A'; $ins $used ROLLBACK;"
expect "ON CONFLICT DO NOTHING charges nothing" 1      "BEGIN; $creset INSERT INTO public.clips (id, user_id) OVERRIDING SYSTEM VALUE VALUES (-1, '$A'); INSERT INTO public.clips (id, user_id) OVERRIDING SYSTEM VALUE VALUES (-1, '$A') ON CONFLICT DO NOTHING; $used ROLLBACK;"
expect "RLS-refused insert: 42501, not 23514" ERR:42501 "BEGIN; $creset $ins $ins $ins SELECT set_config('role','authenticated',true), set_config('request.jwt.claims','$CL_B',true); $ins ROLLBACK;"

# Exactly k under real concurrency: 16 connections, one call or insert each,
# all waiting on one transaction that holds the row lock, at usage = limit - 3.
race() {
  local what=$1 setup=$2 stmt=$3 count=$4 i
  psql_ -c "$setup" >/dev/null
  ( psql_ -c "BEGIN; SELECT 1 FROM public.users WHERE id = '$A' FOR UPDATE; SELECT 1 FROM public.user_usage WHERE user_id = '$A' FOR UPDATE; SELECT pg_sleep(2); COMMIT;" >/dev/null ) &
  sleep 0.5
  for i in $(seq 16); do ( psql_ -c "$stmt" >/dev/null 2>&1 || true ) & done
  wait
  expect "$what" 3 "$count"
}
race "RPC: 16 concurrent calls at limit-3 admit exactly 3" \
  "$reset UPDATE public.users SET usage_this_month = 2 WHERE id = '$A';" \
  "$call" "SELECT usage_this_month - 2 FROM public.users WHERE id = '$A';"
race "trigger: 16 concurrent inserts at limit-3 admit exactly 3" \
  "UPDATE public.clip_limits SET monthly_limit = CASE tier WHEN 'free' THEN 5 ELSE 1000 END; DELETE FROM public.clips WHERE user_id = '$A'; INSERT INTO public.user_usage (user_id, clips_this_month) VALUES ('$A', 2) ON CONFLICT (user_id) DO UPDATE SET clips_this_month = 2, clips_period_start = date_trunc('month', now() AT TIME ZONE 'UTC')::date;" \
  "$ins" "SELECT count(*) FROM public.clips WHERE user_id = '$A';"

[ "$FAILS" = 0 ] && echo "all checks passed" || { echo "$FAILS check(s) failed"; exit 1; }
