-- `bench --meter` on a rpc meter: the floor, a bare single-statement
-- increment of the same counter row ($1 the subject, $2 the amount).
UPDATE {counter_table} AS s
   SET {counter} = s.{counter} + $2
 WHERE s.{counter_key} = $1
RETURNING s.{counter}
