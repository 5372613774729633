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
  -- v_period: the period (UTC, whatever the session TimeZone) the counter
  -- counts; only the variables this meter's shape uses (locals.sql).
  r record;
{locals}
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
{charge_one}
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
