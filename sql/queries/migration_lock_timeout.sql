-- How long DDL in this migration transaction may wait for a table lock:
-- `SET LOCAL lock_timeout`, with the value bound (e.g. '2000ms').
SELECT pg_catalog.set_config('lock_timeout', $1, true)
