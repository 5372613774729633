-- `bench --meter` on a rpc meter: the floor, a bare single-statement
-- increment of the same counter row by one unit ($1 the subject), in the
-- seed floor's form (see bench_floor_row_column.sql).
UPDATE {counter_table}
   SET {counter} = {counter} + 1
 WHERE {counter_key} = $1
RETURNING {counter}
