-- `reset-user --meter`: locks a subject's ($1) counter row, as the meter's
-- function and trigger do before they charge it.
SELECT 1
  FROM {counter_table} AS s
 WHERE s.{counter_key} = $1
   FOR UPDATE
