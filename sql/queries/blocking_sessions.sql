-- Other sessions holding locks on the tables a migration or revert touches:
-- who is in the way of our DDL, for how long, doing what.
SELECT a.pid,
       coalesce(a.usename::text, '?') AS usename,
       coalesce(a.state, '?') AS state,
       extract(epoch FROM now() - coalesce(a.xact_start, a.query_start, now()))::float8 AS seconds,
       left(regexp_replace(coalesce(a.query, ''), '\s+', ' ', 'g'), 120) AS query,
       string_agg(DISTINCT l.relation::regclass::text || ' ' || l.mode, ', ') AS locks
  FROM pg_catalog.pg_locks AS l
  JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
 WHERE l.granted
   AND l.pid <> pg_catalog.pg_backend_pid()
   AND l.relation = ANY (
         SELECT to_regclass(t) FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL)
 GROUP BY a.pid, a.usename, a.state, a.xact_start, a.query_start, a.query
 ORDER BY seconds DESC
