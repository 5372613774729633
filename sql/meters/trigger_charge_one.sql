-- One subject's charge inside a trigger meter's function ({subj}, {amt}):
-- the limit, one locked check-and-increment, the refusal.
    IF {subj} IS NULL THEN
      RAISE EXCEPTION '{label} limit reached: a row with no subject cannot be charged'
        USING ERRCODE = 'check_violation',
              HINT = {null_hint};
    END IF;
    {skip_nothing}
    v_limit := NULL;
{limit_lookup}
{charge}
    IF NOT FOUND THEN
      -- Refused: the whole statement fails. The figures go only to the
      -- subject charged (or its members), service_role and a direct session.
      {read_sub}
      IF NOT (pg_catalog.current_setting('role') = 'service_role'
              OR {sub_allowed}
              OR NOT {guard_direct}) THEN
        RAISE EXCEPTION '{label} limit reached for %', {subj}
          USING ERRCODE = 'check_violation',
                DETAIL = 'The rows are charged to another subject than the caller; its usage and limit are not disclosed.';
      END IF;
      SELECT {used} INTO v_used
        FROM {counter_table} AS s
       WHERE s.{counter_key} = {subj};
      RAISE EXCEPTION '{label} limit reached: % of % used {period_phrase}, % more asked', COALESCE(v_used, 0), COALESCE(v_limit, 0), {amt}
        USING ERRCODE = 'check_violation',
              DETAIL = pg_catalog.format('limit=%s usage=%s amount=%s subject=%s', COALESCE(v_limit, 0), COALESCE(v_used, 0), {amt}, {subj}),
              HINT = {refusal_hint};
    END IF;
