#!/usr/bin/env bash
# The seed meter's ratio to its floor and a mapped rpc meter's ratio to the
# floor of the same shape, in one run on one database, interleaved:
#
#   scripts/bench-mapped.sh [--seconds 5] [--rounds 5] [--clients 4] [--pairs 3]
#
# A kept `quota sandbox` (the seed schema, V1..V6 applied) gets one more
# counter column on public.users, `credits_used integer`, metered by a
# quota.toml rpc meter `credits` (function public.spend_credits, limit
# plan_limits_scrapes, monthly): the seed meter's shape (counter and limit
# on the subject row, a period marker), another column, another name. Each
# pair runs, in alternating order,
#   quota bench --only update_floor,function --clients C          (seed, scratch users)
#   quota --config F bench --meter credits --user U1 .. --user UC (mapped, demo users)
# and prints both ratios; then the median of each and their difference in
# percent of the seed's. QUOTA=path/to/quota picks the binary (default
# target/release/quota if built, else target/debug/quota).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=5 ROUNDS=5 CLIENTS=4 PAIRS=3
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench-mapped: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$CLIENTS" -le 4 ] || { echo "bench-mapped: --clients is at most 4 (the sandbox's users)" >&2; exit 2; }
if [ -z "${QUOTA:-}" ]; then
  QUOTA=target/release/quota
  [ -x "$QUOTA" ] || QUOTA=target/debug/quota
fi
[ -x "$QUOTA" ] || { echo "bench-mapped: build quota first (cargo build --release)" >&2; exit 2; }
unset QUOTA_CONFIG DATABASE_URL

WORK=$(mktemp -d /tmp/quota-bench-mapped.XXXXXX)
STOP=""
cleanup() { [ -z "$STOP" ] || eval "$STOP" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
"$QUOTA" --format json sandbox --keep >"$WORK/sandbox.json"
URL=$(json 'd["kept"]["url"]' <"$WORK/sandbox.json")
STOP=$(json 'd["kept"]["stop"]' <"$WORK/sandbox.json")
export DATABASE_URL=$URL

psql -q -v ON_ERROR_STOP=1 "$URL" -c \
  "ALTER TABLE public.users ADD COLUMN credits_used integer NOT NULL DEFAULT 0"
cat >"$WORK/quota.toml" <<'TOML'
[subject]
table = "public.users"
key = "id"
tier = "subscription_tier"

[meters.credits]
kind = "rpc"
function = "public.spend_credits"
counter = "credits_used"
limit = "plan_limits_scrapes"
period = "month"
TOML
"$QUOTA" --config "$WORK/quota.toml" migrate apply >/dev/null
USERS=(11111111-1111-4111-8111-111111111111 22222222-2222-4222-8222-222222222222
       33333333-3333-4333-8333-333333333333 44444444-4444-4444-8444-444444444444)
SUBJECTS=()
for u in "${USERS[@]:0:$CLIENTS}"; do SUBJECTS+=(--user "$u"); done
RUN=(--seconds "$SECS" --rounds "$ROUNDS" --clients "$CLIENTS")

seed() {
  "$QUOTA" --format json bench --only update_floor,function "${RUN[@]}" \
    | json 'd["ratios"]["function_vs_update"]'
}
mapped() {
  "$QUOTA" --config "$WORK/quota.toml" --format json bench --meter credits "${SUBJECTS[@]}" "${RUN[@]}" \
    | json 'd["ratio_to_floor"]'
}

echo "pair  seed function/update_floor  mapped credits function/update_floor"
S=() M=()
for p in $(seq 1 "$PAIRS"); do
  if [ $((p % 2)) = 1 ]; then s=$(seed); m=$(mapped); else m=$(mapped); s=$(seed); fi
  S+=("$s") M+=("$m")
  printf '%4d  %28s  %37s\n' "$p" "$s" "$m"
done
python3 - "${S[*]}" "${M[*]}" <<'PY'
import statistics, sys
s = statistics.median(float(x) for x in sys.argv[1].split())
m = statistics.median(float(x) for x in sys.argv[2].split())
print(f"median: seed {s:.3f}x, mapped {m:.3f}x; mapped - seed = {100 * (m - s) / s:+.1f}% of the seed's ratio")
PY
