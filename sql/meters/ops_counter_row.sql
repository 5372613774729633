-- `reset-user --meter --to N`: the subject's ($1) row of a counter kept in
-- a table of its own, made as the function's first use makes it.
INSERT INTO {counter_table} AS s ({counter_key}, {counter})
VALUES ($1, 0)
ON CONFLICT ({counter_key}) DO NOTHING
