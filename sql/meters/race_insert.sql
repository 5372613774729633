-- `quota race --meter` on a trigger meter: one row charged to the subject
-- ($1) by $2 units; other required columns get placeholders by type. The
-- row's key comes back so that the race can delete exactly its own rows.
INSERT INTO {on} AS t ({subject_column}{amount_column}{extra_columns})
VALUES ($1{amount_value}{extra_values})
RETURNING t.{row_key}::pg_catalog.text
