-- quota: meter {meter_literal} (trigger on {on_text}, per row), rendered from quota.toml.
{marker_ddl}{limits_ddl}
CREATE FUNCTION {trigger_function}()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $quota_meter$
DECLARE
  v_subject pg_catalog.uuid := NEW.{subject_column};
  -- A zero, negative or NULL amount charges nothing.
  v_amount pg_catalog.int8 := ({row_amount})::pg_catalog.int8;
  -- v_period: the period (UTC, whatever the session TimeZone) the counter
  -- counts; only the variables this meter's shape uses (locals.sql).
{locals}
BEGIN
  -- Once per row inserted (only rows actually inserted: AFTER INSERT), for
  -- single-row inserts, where a statement trigger's transition table costs
  -- more than it saves; a refusal fails the whole statement.
{charge_one}
  RETURN NULL;
END
$quota_meter$;

COMMENT ON FUNCTION {trigger_function}() IS
  {comment};
REVOKE ALL ON FUNCTION {trigger_function}() FROM PUBLIC;

CREATE TRIGGER {trigger_name}
  AFTER INSERT ON {on}
  FOR EACH ROW
  EXECUTE FUNCTION {trigger_function}();
