-- quota: meter {meter_literal} (trigger on {on_text}), rendered from quota.toml.
{marker_ddl}{limits_ddl}
CREATE FUNCTION {trigger_function}()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $quota_meter$
DECLARE
  -- The period (UTC, whatever the session TimeZone) the counter counts.
  v_period pg_catalog.date := {period_start};
  r record;
  v_sub pg_catalog.text;
  v_limit {limit_type};
  v_used {counter_type};
BEGIN
  -- Once per statement: the rows it inserted (only those: rows ON CONFLICT
  -- DO NOTHING skipped or row-level security refused are not in the
  -- transition table), summed per subject, subjects in key order so that
  -- concurrent multi-subject inserts lock counter rows in the same order.
  -- A zero, negative or NULL amount charges nothing.
  FOR r IN
    SELECT n.{subject_column} AS subject, pg_catalog.sum({row_amount})::pg_catalog.int8 AS amount
      FROM quota_inserted AS n
     GROUP BY n.{subject_column}
     ORDER BY n.{subject_column}
  LOOP
    IF r.subject IS NULL THEN
      RAISE EXCEPTION '{label} limit reached: a row with no subject cannot be charged'
        USING ERRCODE = 'check_violation',
              HINT = {null_hint};
    END IF;
    CONTINUE WHEN r.amount < 1;
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
        RAISE EXCEPTION '{label} limit reached for %', r.subject
          USING ERRCODE = 'check_violation',
                DETAIL = 'The rows are charged to another subject than the caller; its usage and limit are not disclosed.';
      END IF;
      SELECT {used} INTO v_used
        FROM {counter_table} AS s
       WHERE s.{counter_key} = r.subject;
      RAISE EXCEPTION '{label} limit reached: % of % used {period_phrase}, % more asked', COALESCE(v_used, 0), COALESCE(v_limit, 0), r.amount
        USING ERRCODE = 'check_violation',
              DETAIL = pg_catalog.format('limit=%s usage=%s amount=%s subject=%s', COALESCE(v_limit, 0), COALESCE(v_used, 0), r.amount, r.subject),
              HINT = {refusal_hint};
    END IF;
  END LOOP;
  RETURN NULL;
END
$quota_meter$;

COMMENT ON FUNCTION {trigger_function}() IS
  {comment};
REVOKE ALL ON FUNCTION {trigger_function}() FROM PUBLIC;

CREATE TRIGGER {trigger_name}
  AFTER INSERT ON {on}
  REFERENCING NEW TABLE AS quota_inserted
  FOR EACH STATEMENT
  EXECUTE FUNCTION {trigger_function}();
