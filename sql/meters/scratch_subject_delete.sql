-- Removes a scratch subject ($1), after its counter row (scratch_counter_delete.sql).
DELETE FROM {subject_table} AS s WHERE s.{subject_key} = $1
