-- Removes a scratch subject's ($1) counter row, when the counter lives in a table of its own.
DELETE FROM {counter_table} AS s WHERE s.{counter_key} = $1
