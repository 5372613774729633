-- `bench --meter`: deletes the counter row of a subject ($1) the bench created.
DELETE FROM {counter_table} AS s WHERE s.{counter_key} = $1
