    -- Check and increment in one statement under the counter row's lock,
    -- creating the row on the subject's first use.
    IF {amt} <= v_limit THEN
      INSERT INTO {counter_table} AS s ({counter_key}, {counter}{marker_insert_column})
      VALUES ({subj}, {amt}{marker_insert_value})
      ON CONFLICT ({counter_key}) DO UPDATE
         SET {counter} = {used} + {amt}{set_marker}
       WHERE {used}::pg_catalog.int8 + {amt} <= v_limit;
    ELSE
      PERFORM NULL WHERE false; -- FOUND := false
    END IF;
