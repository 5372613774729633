-- A scratch subject ($1) for `quota race --meter`: its key, its limit ($2)
-- when the meter's limit is a column, placeholders for its other required
-- columns. A row a signup trigger already made for this id is kept (and
-- its limit set by scratch_subject_limit.sql).
INSERT INTO {subject_table} AS s ({subject_key}{limit_column}{extra_columns})
VALUES ($1{limit_value}{extra_values})
ON CONFLICT ({subject_key}) DO NOTHING
