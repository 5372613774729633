-- `bench --meter`: sets a subject's ($1) tier to $2 (quota's scratch tier
-- with an unreachable limit for the bench, then the saved tier).
UPDATE {subject_table} AS s SET {tier} = $2 WHERE s.{subject_key} = $1
