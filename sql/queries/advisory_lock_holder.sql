-- The server process holding quota's migration lock (a transaction-level advisory lock
-- on a bigint key shows up as classid = high 32 bits, objid = low 32 bits).
SELECT l.pid,
       extract(epoch FROM now() - coalesce(a.backend_start, now()))::float8 AS seconds,
       coalesce(a.application_name, '') AS application_name
  FROM pg_catalog.pg_locks AS l
  LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
 WHERE l.locktype = 'advisory'
   AND l.granted
   AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
   AND l.classid::bigint = ($1::bigint >> 32)
   AND l.objid::bigint = ($1::bigint & 4294967295)
   AND l.objsubid = 1
 LIMIT 1
