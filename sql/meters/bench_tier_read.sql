-- `bench --meter` on a meter with limits per tier: the subject's ($1) tier
-- as it is, saved before the bench.
SELECT s.{tier}::pg_catalog.text
  FROM {subject_table} AS s
 WHERE s.{subject_key} = $1
