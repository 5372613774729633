-- `bench --meter`: writes back a subject's ($1) saved counter ($2) and
-- period marker ($3, when the meter has one).
UPDATE {counter_table} AS s
   SET {counter} = $2{marker_restore}
 WHERE s.{counter_key} = $1
