-- `bench --meter` on a meter counted in a table of its own: the subject's
-- ($1) counter row, created at zero for this period when it does not exist
-- yet (deleted again afterwards), so the floor updates a row too.
INSERT INTO {counter_table} AS s ({counter_key}, {counter}{marker_insert_column})
VALUES ($1, 0{marker_period_value})
