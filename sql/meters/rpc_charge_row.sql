{limit_lookup}
  -- Check and increment in one statement under the subject row's lock.
  UPDATE {counter_table} AS s
     SET {counter} = {used} + p_amount{set_marker}
   WHERE s.{counter_key} = p_subject
     AND {used}::pg_catalog.int8 + p_amount <= v_limit
  RETURNING s.{counter} INTO v_used;
  IF FOUND THEN
    RETURN QUERY SELECT true, v_used, v_limit;
    RETURN;
  END IF;
  SELECT {used} INTO v_used
    FROM {counter_table} AS s
   WHERE s.{counter_key} = p_subject;
  RETURN QUERY SELECT false, v_used, v_limit;
