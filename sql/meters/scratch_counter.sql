-- A scratch subject's ($1) counter set to $2 for this period, its row made
-- when the counter lives in a table of its own.
INSERT INTO {counter_table} AS s ({counter_key}, {counter}{marker_insert_column})
VALUES ($1, $2{marker_insert_now})
ON CONFLICT ({counter_key}) DO UPDATE SET {counter} = $2{set_marker}
