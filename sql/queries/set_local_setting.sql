-- Sets a setting for the rest of the transaction, as PostgREST does for a
-- request: $1 the setting ('role', 'request.jwt.claims', ...), $2 its value.
-- set_config('role', ...) is SET LOCAL ROLE with the same membership check,
-- and takes the name as a value, never as SQL text.
SELECT pg_catalog.set_config($1, $2, true)
