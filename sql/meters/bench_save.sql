-- `bench --meter`: a subject's ($1) counter and period marker as they are,
-- saved before the bench and written back after it; no row when the
-- counter row does not exist yet.
SELECT s.{counter}::pg_catalog.int8, {marker_text}
  FROM {counter_table} AS s
 WHERE s.{counter_key} = $1
