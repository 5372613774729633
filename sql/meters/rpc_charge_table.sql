{limit_lookup}
  -- Check and increment in one statement under the counter row's lock,
  -- creating the row on the subject's first use (only when the amount fits
  -- a fresh period's limit at all).
  IF p_amount <= v_limit THEN
    INSERT INTO {counter_table} AS s ({counter_key}, {counter}{marker_insert_column})
    VALUES (p_subject, p_amount{marker_insert_value})
    ON CONFLICT ({counter_key}) DO UPDATE
       SET {counter} = {used} + p_amount{set_marker}
     WHERE {used}::pg_catalog.int8 + p_amount <= v_limit
    RETURNING s.{counter} INTO v_used;
    IF FOUND THEN
      RETURN QUERY SELECT true, v_used, v_limit;
      RETURN;
    END IF;
  END IF;
  SELECT {used} INTO v_used
    FROM {counter_table} AS s
   WHERE s.{counter_key} = p_subject;
  RETURN QUERY SELECT false, COALESCE(v_used, 0), v_limit;
