-- A subject's usage ($1) of one mapped meter this period, as its function
-- sees it; no row when the counter row does not exist yet.
SELECT {used}::pg_catalog.int8
  FROM {counter_table} AS s
 WHERE s.{counter_key} = $1
