-- `bench --meter`: sets a subject's ($1) limit column to $2 (an unreachable
-- limit for the bench, then the saved value).
UPDATE {subject_table} AS s SET {limit} = $2 WHERE s.{subject_key} = $1
