-- `bench --meter` on a meter whose limit is a column of the subject's row:
-- the subject's ($1) limit as it is, saved before the bench.
SELECT s.{limit}::pg_catalog.int8
  FROM {subject_table} AS s
 WHERE s.{subject_key} = $1
