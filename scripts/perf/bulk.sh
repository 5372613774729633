# Shared by scripts/bench-bulk.sh and scripts/callgrind-per-call.sh --bulk:
# loads the bulk-insert tables of scripts/perf/bulk.sql into a cluster that
# perf_cluster (scripts/perf/common.sh) made. Source it after common.sh.

# perf_bulk DIR PORT: V5's row trigger function, verbatim from its migration
# under the name perf.enforce_clip_limit_row(), then scripts/perf/bulk.sql.
perf_bulk() {
  local dir=$1 port=$2
  sed -n '/^CREATE OR REPLACE FUNCTION public.enforce_clip_limit()/,/^\$enforce_clip_limit\$;/p' \
    "$REPO/sql/migrations/V5__monotonic_periods.sql" |
    sed 's/^CREATE OR REPLACE FUNCTION public.enforce_clip_limit()/CREATE FUNCTION perf.enforce_clip_limit_row()/' \
      >"$dir/bulk_row.sql"
  grep -q 'perf.enforce_clip_limit_row()' "$dir/bulk_row.sql" || { echo "perf_bulk: V5's trigger function not found" >&2; return 1; }
  chown postgres "$dir/bulk_row.sql" 2>/dev/null || true
  local f
  for f in "$dir/bulk_row.sql" "$REPO/scripts/perf/bulk.sql"; do
    as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres -f "$f" >/dev/null
  done
  as_pg "$PGBIN/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null
}
