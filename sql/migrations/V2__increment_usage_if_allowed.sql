-- V2: the atomic check-and-increment RPC and its grants, in one version so
-- the function never exists, even for a moment, with PUBLIC's default EXECUTE.

CREATE OR REPLACE FUNCTION public.increment_usage_if_allowed(p_user_id uuid)
RETURNS TABLE (
  allowed boolean,
  new_usage integer,
  effective_limit integer,
  plan text,
  subscription_status text
)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $increment_usage_if_allowed$
#variable_conflict use_column
DECLARE
  -- The period is the calendar month in UTC, whatever the session TimeZone.
  v_period date := (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date;
  v_claims jsonb := NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb;
BEGIN
  -- Cross-user guard: a signed-in PostgREST caller may only spend its own quota.
  IF v_claims ->> 'role' = 'authenticated'
     AND pg_catalog.lower(v_claims ->> 'sub') IS DISTINCT FROM p_user_id::text THEN
    RAISE EXCEPTION 'increment_usage_if_allowed: caller may not spend the quota of user %', p_user_id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'p_user_id must equal the sub claim of the caller''s JWT';
  END IF;

  -- Check and increment in one statement: the UPDATE takes the row lock, and
  -- a concurrent caller re-evaluates the WHERE against the committed row, so
  -- N racing calls at usage = limit - k admit exactly k. A NULL or negative
  -- limit never satisfies "<", so it fails closed.
  RETURN QUERY
  UPDATE public.users AS u
     SET usage_this_month = CASE WHEN u.usage_period_start < v_period THEN 1
                                 ELSE COALESCE(u.usage_this_month, 0) + 1 END,
         usage_period_start = v_period
   WHERE u.id = p_user_id
     AND (CASE WHEN u.usage_period_start < v_period THEN 0
               ELSE COALESCE(u.usage_this_month, 0) END) < u.plan_limits_scrapes
  RETURNING true, u.usage_this_month, u.plan_limits_scrapes, u.plan, u.subscription_status;
  IF FOUND THEN
    RETURN;
  END IF;

  -- Not admitted: change nothing, report the usage as it stands this month.
  RETURN QUERY
  SELECT false,
         CASE WHEN u.usage_period_start < v_period THEN 0
              ELSE COALESCE(u.usage_this_month, 0) END,
         u.plan_limits_scrapes, u.plan, u.subscription_status
    FROM public.users AS u
   WHERE u.id = p_user_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'increment_usage_if_allowed: no user with id %', p_user_id
      USING ERRCODE = 'no_data_found';
  END IF;
END
$increment_usage_if_allowed$;

COMMENT ON FUNCTION public.increment_usage_if_allowed(uuid) IS
  'quota: atomically admit one unit of monthly usage for a user if under plan_limits_scrapes';

-- PostgreSQL grants EXECUTE to PUBLIC on every new function, and Supabase's
-- default privileges grant it to anon as well: take both away first.
REVOKE ALL ON FUNCTION public.increment_usage_if_allowed(uuid) FROM PUBLIC;

DO $grants$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON FUNCTION public.increment_usage_if_allowed(uuid) FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
    GRANT EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) TO service_role;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
    GRANT EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) TO authenticated;
  END IF;
END
$grants$;
