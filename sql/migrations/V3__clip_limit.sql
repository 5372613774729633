-- V3: per-tier monthly clip limits, enforced by a BEFORE INSERT trigger on
-- public.clips that checks AND increments user_usage.clips_this_month under
-- the row lock.

-- Limits live in data, so the trigger and the application read one source.
CREATE TABLE IF NOT EXISTS public.clip_limits (
  tier text PRIMARY KEY,
  monthly_limit integer NOT NULL CHECK (monthly_limit >= 0)
);
COMMENT ON TABLE public.clip_limits IS
  'quota: monthly clip limit per users.subscription_tier; unknown tiers get the free limit';

INSERT INTO public.clip_limits (tier, monthly_limit)
VALUES ('free', 50), ('pro', 1000)
ON CONFLICT (tier) DO NOTHING;

-- Readable by the API roles (for a friendly pre-check), writable only by the
-- owner: Supabase's default privileges would otherwise let anon raise limits.
REVOKE ALL ON TABLE public.clip_limits FROM PUBLIC;
ALTER TABLE public.clip_limits ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS clip_limits_readable ON public.clip_limits;
CREATE POLICY clip_limits_readable ON public.clip_limits FOR SELECT USING (true);


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

-- Trigger functions are not meant to be called; nobody needs EXECUTE
-- (PostgreSQL checks it when the trigger is created, not when it fires).
REVOKE ALL ON FUNCTION public.enforce_clip_limit() FROM PUBLIC;

-- Per-role grants, only where the role exists (plain Postgres has none).
DO $grants$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE pg_catalog.format('REVOKE ALL ON TABLE public.clip_limits FROM %I', r);
      EXECUTE pg_catalog.format('GRANT SELECT ON TABLE public.clip_limits TO %I', r);
      EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION public.enforce_clip_limit() FROM %I', r);
    END IF;
  END LOOP;
END
$grants$;

CREATE OR REPLACE TRIGGER enforce_clip_limit_trigger
  BEFORE INSERT ON public.clips
  FOR EACH ROW
  EXECUTE FUNCTION public.enforce_clip_limit();
