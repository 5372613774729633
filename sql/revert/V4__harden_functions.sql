-- Revert V4: back to exactly what V2 and V3 installed (their function
-- bodies and settings, and the BEFORE INSERT trigger), so that `quota check
-- drift` at V3 passes. The bodies are copied verbatim from V2 and V3; a unit
-- test keeps them identical.

DROP TRIGGER IF EXISTS enforce_clip_limit_trigger ON public.clips;

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

CREATE OR REPLACE FUNCTION public.enforce_clip_limit()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $enforce_clip_limit$
DECLARE
  v_period date := (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date;
  v_limit integer;
  v_used integer;
BEGIN
  -- The tier's limit, or the free limit for an unknown or missing tier.
  SELECT COALESCE(
           (SELECT cl.monthly_limit
              FROM public.users AS u
              JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
             WHERE u.id = NEW.user_id),
           (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free'))
    INTO v_limit;

  -- Check and increment in one statement under the user_usage row lock;
  -- creates the row on a user's first clip. A concurrent insert for the same
  -- user waits here and re-checks against the committed counter. No limit
  -- (free row deleted) fails closed.
  IF v_limit IS NOT NULL AND v_limit > 0 THEN
    INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
    VALUES (NEW.user_id, 1, v_period)
    ON CONFLICT (user_id) DO UPDATE
       SET clips_this_month = CASE WHEN uu.clips_period_start < v_period THEN 1
                                   ELSE COALESCE(uu.clips_this_month, 0) + 1 END,
           clips_period_start = v_period
     WHERE (CASE WHEN uu.clips_period_start < v_period THEN 0
                 ELSE COALESCE(uu.clips_this_month, 0) END) < v_limit
    RETURNING uu.clips_this_month INTO v_used;
    IF v_used IS NOT NULL THEN
      RETURN NEW;
    END IF;
  END IF;

  SELECT CASE WHEN uu.clips_period_start < v_period THEN 0
              ELSE COALESCE(uu.clips_this_month, 0) END
    INTO v_used
    FROM public.user_usage AS uu
   WHERE uu.user_id = NEW.user_id;

  -- The API layer keys on SQLSTATE 23514 and the text "Clip limit reached".
  RAISE EXCEPTION 'Clip limit reached: % of % clips used this month', COALESCE(v_used, 0), COALESCE(v_limit, 0)
    USING ERRCODE = 'check_violation',
          DETAIL = pg_catalog.format('limit=%s usage=%s user_id=%s', COALESCE(v_limit, 0), COALESCE(v_used, 0), NEW.user_id),
          HINT = 'Upgrade the plan or wait for the next calendar month (UTC).';
END
$enforce_clip_limit$;

COMMENT ON FUNCTION public.enforce_clip_limit() IS
  'quota: BEFORE INSERT trigger on public.clips; admits a clip only under the monthly tier limit';

CREATE TRIGGER enforce_clip_limit_trigger
  BEFORE INSERT ON public.clips
  FOR EACH ROW
  EXECUTE FUNCTION public.enforce_clip_limit();
