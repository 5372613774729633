-- Whether quota's record of mapped meters exists (quota.toml installs).
-- A scan of pg_class under the statement's snapshot, not to_regclass: a
-- name lookup that takes no lock may answer from this backend's cache of
-- an earlier "no such table", and miss the table another quota process
-- created and committed while this one waited for the migration lock.
SELECT EXISTS (SELECT 1
                 FROM pg_catalog.pg_class AS c
                 JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                WHERE n.nspname = 'quota' AND c.relname = 'meters')
