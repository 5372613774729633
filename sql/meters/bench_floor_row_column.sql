-- `bench --meter` on a rpc meter whose counter and limit are on the
-- subject's row: the floor, the bare single-statement check-and-increment of
-- the same row by one unit ($1 the subject), in the seed floor's exact form
-- (bench_update_floor.sql): no alias, `counter < limit`. In instructions per
-- call (simple protocol, scripts/callgrind-per-call.sh --mapped) an alias
-- costs ~7 k and `counter + 1 <= limit` ~10 k more to parse and plan than
-- this: a floor in another form would move the ratio, not the meter.
UPDATE {counter_table}
   SET {counter} = {counter} + 1
 WHERE {counter_key} = $1 AND {counter} < {limit}
RETURNING {counter}
