-- V7: clips are charged per statement, not per row.
--
-- Until V6 the trigger fired FOR EACH ROW: a 100-row INSERT ... SELECT
-- looked up the same user's limit and locked and rewrote the same
-- user_usage row 100 times (0.26-0.33x the speed of the same insert into a
-- table without the trigger). It now fires once per statement, AFTER the
-- insert, with the inserted rows in a transition table, and charges each
-- user once: one limit lookup and one locked check-and-increment per user
-- per statement. docs/performance.md ("Bulk inserts: row vs
-- statement trigger") has the figures at 1 and at 100 rows per statement.
--
-- Every rule of V5 holds:
--  * all or nothing: a statement that would take any user over the limit
--    fails whole with SQLSTATE 23514 and a message starting "Clip limit
--    reached" (the exception aborts the statement, the inserted clips and
--    the counters already charged by this trigger with it);
--  * only rows really inserted are charged: the transition table holds the
--    rows the statement inserted, after row level security and ON CONFLICT
--    DO NOTHING had their say (a skipped or refused row is not in it);
--  * the counter's row is created on a user's first clip; the month (UTC)
--    resets it lazily; the period marker never moves backwards (V5);
--  * the tier's limit from public.clip_limits, the free limit for an
--    unknown tier; a missing or 0 limit admits nothing (fails closed);
--  * exact under concurrency: the upsert takes the user_usage row lock and
--    re-checks against the committed counter; users are charged in user_id
--    order, so two multi-user statements lock their rows in the same order
--    and never deadlock each other;
--  * the figures of a refusal go only to the user charged, service_role and
--    a direct session (V5's disclosure rule, unchanged);
--  * SECURITY DEFINER, search_path = pg_catalog, pg_temp, every name
--    qualified. The transition table is the one unqualified name: it is not
--    a catalog relation but an ephemeral one the trigger call registers,
--    which the parser finds before looking at any schema.
--
-- V1-V6 stay as they were applied (their checksums are recorded); this
-- version replaces the trigger function and the trigger in one transaction,
-- so no insert ever runs without one of them.

CREATE OR REPLACE FUNCTION public.enforce_clip_limit()
RETURNS trigger
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $enforce_clip_limit$
DECLARE
  v_first pg_catalog.text; -- the smallest and largest user_id inserted, as text
  v_last pg_catalog.text;
  v_rows pg_catalog.int4;  -- clips inserted
  v_clips pg_catalog.int4; -- clips inserted with a user_id (one user's share, in the loop)
  v_user pg_catalog.uuid;  -- the user being charged
  v_limit pg_catalog.int4; -- that user's monthly limit
  v_users pg_catalog.refcursor; -- the per-user shares, when the statement has several users
  v_used pg_catalog.int4;
  v_sub pg_catalog.text;
BEGIN
  -- 1. What the statement inserted, in one pass over the transition table
  --    (inserted_clips, named by the trigger's REFERENCING clause): how many
  --    clips, and whether they all belong to one user (the common case: an
  --    API request, an import for one user). "C" compares bytes: exact and
  --    cheap. Nothing inserted (ON CONFLICT DO NOTHING skipped every row):
  --    nothing to charge.
  SELECT pg_catalog.min(c.user_id::pg_catalog.text COLLATE pg_catalog."C"),
         pg_catalog.max(c.user_id::pg_catalog.text COLLATE pg_catalog."C"),
         pg_catalog.count(*)::pg_catalog.int4,
         pg_catalog.count(c.user_id)::pg_catalog.int4
    INTO v_first, v_last, v_rows, v_clips
    FROM inserted_clips AS c;
  IF v_rows = 0 THEN
    RETURN NULL;
  END IF;

  -- 2. Several users (or a NULL user_id, which the upsert refuses as V5
  --    did): their shares with their tier's limit, in user_id order. The
  --    loop below locks counter rows in that order, so two multi-user
  --    statements never deadlock each other. One user: no aggregate query;
  --    the loop runs once with v_clips clips and looks the limit up itself.
  IF v_first = v_last AND v_clips = v_rows THEN
    v_user := v_first::pg_catalog.uuid;
  ELSE
    OPEN v_users FOR
      SELECT c.user_id, pg_catalog.count(*)::pg_catalog.int4, cl.monthly_limit
        FROM inserted_clips AS c
        LEFT JOIN public.users AS u ON u.id = c.user_id
        LEFT JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
       GROUP BY c.user_id, cl.monthly_limit
       ORDER BY c.user_id;
  END IF;

  LOOP
    -- 3. The user's limit: the tier's, or the free limit for an unknown or
    --    missing tier (a plain join, then the fall-back only when it finds
    --    nothing, as V5; monthly_limit is NOT NULL, so NULL means no row).
    IF v_users IS NULL THEN
      SELECT cl.monthly_limit INTO v_limit
        FROM public.users AS u
        JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
       WHERE u.id = v_user;
    ELSE
      FETCH v_users INTO v_user, v_clips, v_limit;
      IF NOT FOUND THEN
        CLOSE v_users;
        RETURN NULL; -- every user charged
      END IF;
    END IF;
    IF v_limit IS NULL THEN
      SELECT cl.monthly_limit INTO v_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free';
    END IF;

    -- 4. Charge: check and increment in one statement under the user_usage
    --    row lock, creating the row on a user's first clip; a concurrent
    --    statement for the same user waits on that lock and re-checks
    --    against the committed counter. Admitted only when usage + clips <=
    --    limit: all of the user's clips or none. The month (UTC) is computed
    --    once, in the proposed row, and read back as
    --    excluded.clips_period_start; excluded.clips_this_month is the
    --    amount. The first test refuses more clips than the limit (a new
    --    row would be created with them) and a missing or 0 limit (NULL >=
    --    n is not true: fails closed); the WHERE is written as usage <=
    --    limit - clips, which cannot overflow.
    IF v_limit >= v_clips THEN
      INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
      VALUES (v_user, v_clips, (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date)
      ON CONFLICT (user_id) DO UPDATE
         SET clips_this_month = CASE WHEN uu.clips_period_start < excluded.clips_period_start
                                     THEN excluded.clips_this_month
                                     ELSE COALESCE(uu.clips_this_month, 0) + excluded.clips_this_month END,
             clips_period_start = GREATEST(uu.clips_period_start, excluded.clips_period_start)
       WHERE (CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 0
                   ELSE COALESCE(uu.clips_this_month, 0) END) <= v_limit - excluded.clips_this_month;
      IF FOUND THEN
        IF v_users IS NULL THEN
          RETURN NULL; -- one user: done (an AFTER trigger's result is ignored)
        END IF;
        CONTINUE; -- the next user
      END IF;
    END IF;

    -- 5. Refuse the whole statement (the exception undoes the clips and
    --    every counter this trigger charged). The figures go only to the
    --    user being charged, service_role and a direct session (no role
    --    switched, no JWT); the sub is read both ways PostgREST passes it,
    --    as the RPC's guard reads it. Anyone else inserting clips for this
    --    user learns only that they were refused. No sub under an API role
    --    is "anyone else": the test is never NULL (fails closed).
    v_sub := COALESCE(NULLIF(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                      NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.json ->> 'sub');
    IF NOT (pg_catalog.current_setting('role') = 'service_role'
            OR COALESCE(pg_catalog.lower(v_sub) = v_user::pg_catalog.text, false)
            OR (v_sub IS NULL
                AND pg_catalog.current_setting('role') = 'none'
                AND NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '') IS NULL
                AND NULLIF(pg_catalog.current_setting('request.jwt.claim.role', true), '') IS NULL)) THEN
      RAISE EXCEPTION 'Clip limit reached for user %', v_user
        USING ERRCODE = 'check_violation',
              DETAIL = 'The clip is charged to another user than the caller; that user''s usage and limit are not disclosed.',
              HINT = 'Insert clips only for the signed-in user (user_id = auth.uid()).';
    END IF;

    -- This month's usage, for the message only.
    SELECT CASE WHEN uu.clips_period_start < (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date
                THEN 0 ELSE COALESCE(uu.clips_this_month, 0) END
      INTO v_used
      FROM public.user_usage AS uu
     WHERE uu.user_id = v_user;

    -- The API layer keys on SQLSTATE 23514 and the text "Clip limit reached".
    -- One clip gets V5's message and DETAIL exactly; more also say how many.
    RAISE EXCEPTION 'Clip limit reached: % of % clips used this month%', COALESCE(v_used, 0), COALESCE(v_limit, 0),
                    CASE WHEN v_clips > 1 THEN pg_catalog.format('; this statement adds %s', v_clips) ELSE '' END
      USING ERRCODE = 'check_violation',
            DETAIL = pg_catalog.format('limit=%s usage=%s user_id=%s', COALESCE(v_limit, 0), COALESCE(v_used, 0), v_user)
                     || CASE WHEN v_clips > 1 THEN pg_catalog.format(' clips=%s', v_clips) ELSE '' END,
            HINT = 'Upgrade the plan or wait for the next calendar month (UTC).';
  END LOOP;
END
$enforce_clip_limit$;

COMMENT ON FUNCTION public.enforce_clip_limit() IS
  'quota: AFTER INSERT statement trigger on public.clips; admits a statement''s clips only under each user''s monthly tier limit';

-- 4. The trigger: once per INSERT statement (also COPY and INSERT ... ON
--    CONFLICT), after it, with the inserted rows as inserted_clips. Dropped
--    and created in this transaction, so no insert runs without a trigger.
DROP TRIGGER IF EXISTS enforce_clip_limit_trigger ON public.clips;
CREATE TRIGGER enforce_clip_limit_trigger
  AFTER INSERT ON public.clips
  REFERENCING NEW TABLE AS inserted_clips
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.enforce_clip_limit();
