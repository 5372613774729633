-- A subject's limit ($1) of one mapped meter; no row when there is no such subject.
SELECT s.{limit}::pg_catalog.int8
  FROM {subject_table} AS s
 WHERE s.{subject_key} = $1
