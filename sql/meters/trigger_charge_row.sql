    -- Check and increment in one statement under the subject row's lock.
    UPDATE {counter_table} AS s
       SET {counter} = {used} + r.amount{set_marker}
     WHERE s.{counter_key} = r.subject
       AND {used}::pg_catalog.int8 + r.amount <= v_limit;
