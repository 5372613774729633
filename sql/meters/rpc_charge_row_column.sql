  -- Check and increment in one statement under the subject row's lock: N
  -- racing calls at usage = limit - k admit exactly k units. A NULL or
  -- negative limit never satisfies "<=": fails closed.
  RETURN QUERY
  UPDATE {counter_table} AS s
     SET {counter} = {used} + p_amount{set_marker}
   WHERE s.{counter_key} = p_subject
     AND {used}::pg_catalog.int8 + p_amount <= s.{limit}
  RETURNING true, s.{counter}, s.{limit};
  IF FOUND THEN
    RETURN;
  END IF;

  -- Not admitted: nothing changes; the usage as it stands this period.
  RETURN QUERY
  SELECT false, {used}, s.{limit}
    FROM {counter_table} AS s
   WHERE s.{counter_key} = p_subject;
  IF NOT FOUND THEN
    RAISE EXCEPTION '{meter_name}: no subject with id %', p_subject
      USING ERRCODE = 'no_data_found';
  END IF;
