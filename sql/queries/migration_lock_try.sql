-- Takes the migration lock (a transaction-level advisory lock) if it is free;
-- false when another session holds it. Polled, so the wait is bounded and the
-- holder can be named.
SELECT pg_catalog.pg_try_advisory_xact_lock($1)
