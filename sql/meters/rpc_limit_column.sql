  -- The subject's limit (its row, or "no such subject").
  SELECT s.{limit} INTO v_limit
    FROM {subject_table} AS s
   WHERE s.{subject_key} = p_subject;
  IF NOT FOUND THEN
    RAISE EXCEPTION '{meter_name}: no subject with id %', p_subject
      USING ERRCODE = 'no_data_found';
  END IF;
