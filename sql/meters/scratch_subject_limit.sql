-- A scratch subject's ($1) limit column set to $2.
UPDATE {subject_table} AS s SET {limit} = $2 WHERE s.{subject_key} = $1
