-- `quota call --meter NAME`: one call of a rpc meter's function for a
-- subject ($1) and an amount ($2).
SELECT allowed, new_usage::pg_catalog.int8, effective_limit::pg_catalog.int8 FROM {function}($1, $2)
