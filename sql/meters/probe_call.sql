-- The guard probe: a rpc meter called for a subject ($1) that the caller's
-- JWT does not name; the guard must refuse it (42501).
SELECT * FROM {function}($1, 1)
