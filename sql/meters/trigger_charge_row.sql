    -- Check and increment in one statement under the subject row's lock.
    UPDATE {counter_table} AS s
       SET {counter} = {used} + {amt}{set_marker}
     WHERE s.{counter_key} = {subj}
       AND {used}::pg_catalog.int8 + {amt} <= v_limit;
