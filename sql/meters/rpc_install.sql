-- quota: meter {meter_literal} (rpc), rendered from quota.toml.
{marker_ddl}{limits_ddl}
CREATE FUNCTION {function}(p_subject pg_catalog.uuid, p_amount pg_catalog.int4 DEFAULT 1)
RETURNS TABLE (
  allowed pg_catalog.bool,
  new_usage {counter_type},
  effective_limit {limit_type}
)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $quota_meter$
#variable_conflict use_column
DECLARE
  -- v_period: the period (UTC, whatever the session TimeZone) the counter
  -- counts; only the variables this meter's shape uses (locals.sql).
{locals}
BEGIN
  -- A zero, negative or NULL amount would lower the counter: refused.
  IF p_amount IS NULL OR p_amount < 1 THEN
    RAISE EXCEPTION '{meter_name}: p_amount must be 1 or more, not %', p_amount
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- Cross-user guard, failing closed: only service_role, and a direct
  -- session that switched no role and carries no JWT, may spend any
  -- subject's quota; every other caller only {guard_who}.
  IF pg_catalog.current_setting('role') IS DISTINCT FROM 'service_role' THEN
    {read_sub}
    IF v_sub IS NULL OR NOT {sub_allowed} THEN
      IF {guard_direct} THEN
        RAISE EXCEPTION '{meter_name}: caller may not spend the quota of %', p_subject
          USING ERRCODE = 'insufficient_privilege',
                HINT = {guard_hint};
      END IF;
    END IF;
  END IF;

{charge}
END
$quota_meter$;

COMMENT ON FUNCTION {function}(pg_catalog.uuid, pg_catalog.int4) IS
  {comment};

-- EXECUTE for the API roles that may call it, only where they exist.
REVOKE ALL ON FUNCTION {function}(pg_catalog.uuid, pg_catalog.int4) FROM PUBLIC;
DO $quota_grants$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON FUNCTION {function}(pg_catalog.uuid, pg_catalog.int4) FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
    GRANT EXECUTE ON FUNCTION {function}(pg_catalog.uuid, pg_catalog.int4) TO authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
    GRANT EXECUTE ON FUNCTION {function}(pg_catalog.uuid, pg_catalog.int4) TO service_role;
  END IF;
END
$quota_grants$;
