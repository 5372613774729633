# Shared by scripts/callgrind-per-call.sh and scripts/pgbench-ratio.sh:
# a throwaway PostgreSQL cluster with the demo schema, the repository's
# migrations and the candidate bodies of scripts/perf/variants.sql.
# Source it; it defines functions only.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v initdb)")}

# The server refuses to run as root: run it (and valgrind) as `postgres`.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# perf_cluster DIR PORT: initdb DIR/template, start it on a Unix socket in DIR,
# load the schema, migrations and variants. Leaves it running.
perf_cluster() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_pg "$PGBIN/initdb" -D "$dir/template" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  cat >>"$dir/template/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
full_page_writes = off
max_connections = 40
shared_buffers = 128MB
CONF
  as_pg "$PGBIN/pg_ctl" -D "$dir/template" -l "$dir/server.log" -w start >/dev/null
  local f
  # PERF_EXTRA_SQL (a candidate body file) replaces the installed bodies
  # after the migrations, so "installed" measures it.
  for f in "$REPO/sql/demo/schema.sql" $(ls "$REPO"/sql/migrations/V*.sql | sort -V) ${PERF_EXTRA_SQL:-} "$REPO/scripts/perf/variants.sql"; do
    as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -v spread="${PERF_SPREAD:-true}" \
      -h "$dir" -p "$port" -U postgres -d postgres -f "$f" >/dev/null
  done
  as_pg "$PGBIN/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null
}

perf_stop() {
  as_pg "$PGBIN/pg_ctl" -D "$1/template" -m fast -w stop >/dev/null 2>&1 || true
}

# A realistic Supabase access token's claims (~600 bytes) for the given role
# and sub, as PostgREST puts them in request.jwt.claims. A space follows
# each colon: pgbench would read ":true" or ":1764000000" as its variables.
claims_json() {
  local role=$1 sub=$2
  printf '{"aud":"authenticated","exp":1764000000,"iat":1763996400,"iss":"https://abcdefghijklmnopqrst.supabase.co/auth/v1","sub":"%s","email":"someone.with.a.long.name@example.com","phone":"","app_metadata":{"provider":"email","providers":["email","google"]},"user_metadata":{"avatar_url":"https://lh3.googleusercontent.com/a/ACg8ocJ0abcdefghijklmnopqrstuvwxyz","email_verified":true,"full_name":"Someone With A Long Name","phone_verified":false},"role":"%s","aal":"aal1","amr":[{"method":"password","timestamp":1763990000}],"session_id":"5b1c8f2e-3d4a-4f6b-9c7d-8e9f0a1b2c3d","is_anonymous":false}' "$sub" "$role" | sed 's/":/": /g'
}
