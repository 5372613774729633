-- `reset-user --meter`: sets a subject's ($1) counter to $2 for this period.
UPDATE {counter_table} AS s
   SET {counter} = $2{set_marker}
 WHERE s.{counter_key} = $1
