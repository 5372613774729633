-- `bench --meter` on a rpc meter whose counter and limit are on the
-- subject's row: the floor, a bare single-statement check-and-increment of
-- the same row ($1 the subject, $2 the amount), one round trip.
UPDATE {counter_table} AS s
   SET {counter} = s.{counter} + $2
 WHERE s.{counter_key} = $1 AND s.{counter} + $2 <= s.{limit}
RETURNING s.{counter}
