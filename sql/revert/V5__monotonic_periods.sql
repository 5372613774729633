-- Revert V5: back to exactly what V4 installed (both function bodies,
-- settings and comments; the trigger is V4's and stays), so that `quota
-- check drift` at V4 passes. The definitions are copied verbatim from V4; a
-- unit test keeps them identical.

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
SET search_path = pg_catalog, pg_temp
AS $increment_usage_if_allowed$
#variable_conflict use_column
DECLARE
  -- The period is the calendar month in UTC, whatever the session TimeZone.
  v_period pg_catalog.date := (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date;
  v_sub pg_catalog.text;
BEGIN
  -- Cross-user guard, failing closed, decided first by the role the request
  -- switched to ('none' when it switched none; SECURITY DEFINER leaves it
  -- alone). Only service_role, and a direct session that switched no role
  -- and carries no JWT at all, may spend any user's quota; every other
  -- caller only the quota of its JWT's sub.
  IF pg_catalog.current_setting('role') IS DISTINCT FROM 'service_role' THEN
    -- The sub as auth.uid() reads it: the per-claim setting older PostgREST
    -- versions set (cheap), else the claims JSON, parsed only then (json
    -- parses cheaper than jsonb). One statement: fewer PL/pgSQL steps.
    v_sub := COALESCE(NULLIF(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                      NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.json ->> 'sub');
    IF v_sub IS NULL OR pg_catalog.lower(v_sub) <> p_user_id::pg_catalog.text THEN
      -- Refused, unless this is a direct session: no role switched, no JWT.
      IF NOT (v_sub IS NULL
              AND pg_catalog.current_setting('role') = 'none'
              AND NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '') IS NULL
              AND NULLIF(pg_catalog.current_setting('request.jwt.claim.role', true), '') IS NULL) THEN
        RAISE EXCEPTION 'increment_usage_if_allowed: caller may not spend the quota of user %', p_user_id
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'p_user_id must equal the sub claim of the caller''s JWT';
      END IF;
    END IF;
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
SET search_path = pg_catalog, pg_temp
AS $enforce_clip_limit$
DECLARE
  v_limit pg_catalog.int4;
  v_used pg_catalog.int4;
BEGIN
  -- The tier's limit, or the free limit for an unknown or missing tier: a
  -- plain join, then the fall-back only when it finds nothing (cheaper than
  -- COALESCE over two scalar subqueries, which start two sub-plans per row).
  SELECT cl.monthly_limit INTO v_limit
    FROM public.users AS u
    JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
   WHERE u.id = NEW.user_id;
  IF NOT FOUND THEN
    SELECT cl.monthly_limit INTO v_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free';
  END IF;

  -- Check and increment in one statement under the user_usage row lock,
  -- creating the row on a user's first clip; a concurrent insert for the
  -- same user waits on that lock and re-checks against the committed
  -- counter. The month (UTC) is computed once, in the proposed row, and read
  -- back as excluded.clips_period_start. No limit or a limit of 0 admits
  -- nothing (NULL > 0 is not true): fails closed.
  IF v_limit > 0 THEN
    INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
    VALUES (NEW.user_id, 1, (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date)
    ON CONFLICT (user_id) DO UPDATE
       SET clips_this_month = CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 1
                                   ELSE COALESCE(uu.clips_this_month, 0) + 1 END,
           clips_period_start = excluded.clips_period_start
     WHERE (CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 0
                 ELSE COALESCE(uu.clips_this_month, 0) END) < v_limit;
    IF FOUND THEN
      RETURN NULL; -- an AFTER trigger's result is ignored
    END IF;
  END IF;

  -- Refused: this month's usage, for the message only.
  SELECT CASE WHEN uu.clips_period_start < (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date
              THEN 0 ELSE COALESCE(uu.clips_this_month, 0) END
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
  'quota: AFTER INSERT trigger on public.clips; admits a clip only under the monthly tier limit';
