    SELECT l."limit" INTO v_limit
      FROM {subject_table} AS s
      JOIN quota.meter_limits AS l ON l.meter = {meter_literal} AND l.tier = s.{tier}
     WHERE s.{subject_key} = {subj};
    IF NOT FOUND THEN
      SELECT l."limit" INTO v_limit
        FROM quota.meter_limits AS l
       WHERE l.meter = {meter_literal} AND l.tier = {default_tier};
    END IF;
