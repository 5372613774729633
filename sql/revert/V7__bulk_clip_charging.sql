-- Revert V7: back to exactly what V5 and V4 installed (V5's trigger
-- function, its settings and comment, and V4's AFTER INSERT FOR EACH ROW
-- trigger), so that `quota check drift` at V6 passes. The definitions are
-- copied verbatim from V5 and V4; a unit test keeps them identical.

-- The statement trigger goes first: V5's function reads NEW, which a
-- statement trigger does not have.
DROP TRIGGER IF EXISTS enforce_clip_limit_trigger ON public.clips;

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
  v_sub pg_catalog.text;
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
           clips_period_start = GREATEST(uu.clips_period_start, excluded.clips_period_start)
     WHERE (CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 0
                 ELSE COALESCE(uu.clips_this_month, 0) END) < v_limit;
    IF FOUND THEN
      RETURN NULL; -- an AFTER trigger's result is ignored
    END IF;
  END IF;

  -- Refused. The figures go only to the user being charged, service_role
  -- and a direct session (no role switched, no JWT); the sub is read both
  -- ways PostgREST passes it, as the RPC's guard reads it. Anyone else
  -- inserting a clip for this user learns only that it was refused. No sub
  -- under an API role is "anyone else": the test is never NULL (fails closed).
  v_sub := COALESCE(NULLIF(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                    NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.json ->> 'sub');
  IF NOT (pg_catalog.current_setting('role') = 'service_role'
          OR COALESCE(pg_catalog.lower(v_sub) = NEW.user_id::pg_catalog.text, false)
          OR (v_sub IS NULL
              AND pg_catalog.current_setting('role') = 'none'
              AND NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '') IS NULL
              AND NULLIF(pg_catalog.current_setting('request.jwt.claim.role', true), '') IS NULL)) THEN
    RAISE EXCEPTION 'Clip limit reached for user %', NEW.user_id
      USING ERRCODE = 'check_violation',
            DETAIL = 'The clip is charged to another user than the caller; that user''s usage and limit are not disclosed.',
            HINT = 'Insert clips only for the signed-in user (user_id = auth.uid()).';
  END IF;

  -- This month's usage, for the message only.
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

CREATE TRIGGER enforce_clip_limit_trigger
  AFTER INSERT ON public.clips
  FOR EACH ROW
  EXECUTE FUNCTION public.enforce_clip_limit();
