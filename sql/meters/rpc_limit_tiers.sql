  -- The subject's tier (its row, or "no such subject"), then the tier's
  -- limit, or the default tier's for an unknown or NULL tier.
  SELECT s.{tier} INTO v_tier
    FROM {subject_table} AS s
   WHERE s.{subject_key} = p_subject;
  IF NOT FOUND THEN
    RAISE EXCEPTION '{meter_name}: no subject with id %', p_subject
      USING ERRCODE = 'no_data_found';
  END IF;
  SELECT l."limit" INTO v_limit
    FROM quota.meter_limits AS l
   WHERE l.meter = {meter_literal} AND l.tier = v_tier;
  IF NOT FOUND THEN
    SELECT l."limit" INTO v_limit
      FROM quota.meter_limits AS l
     WHERE l.meter = {meter_literal} AND l.tier = {default_tier};
  END IF;
