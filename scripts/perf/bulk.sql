-- Tables for the bulk-insert measurements (scripts/bench-bulk.sh and
-- scripts/callgrind-per-call.sh --bulk), loaded after scripts/perf/variants.sql
-- and after perf.enforce_clip_limit_row() (V5's row trigger function,
-- copied from sql/migrations/V5__monotonic_periods.sql by scripts/perf/bulk.sh).
--
-- Four twins of public.clips with the same columns, defaults, identity,
-- indexes AND foreign key to public.users (LIKE copies no foreign keys; the
-- foreign key check is part of what every insert pays):
--   perf.bulk_plain  no trigger (the floor)
--   perf.bulk_row    V5's row trigger: AFTER INSERT FOR EACH ROW (V4-V6)
--   perf.bulk_stmt   the installed trigger, as sql/migrations attach it to
--                    public.clips (V7: AFTER INSERT ... FOR EACH STATEMENT)
--   perf.bulk_read   a statement trigger that only reads its transition
--                    table: the floor of any statement-level design
CREATE TABLE perf.bulk_plain (LIKE public.clips INCLUDING ALL);
CREATE TABLE perf.bulk_row (LIKE public.clips INCLUDING ALL);
CREATE TABLE perf.bulk_stmt (LIKE public.clips INCLUDING ALL);
CREATE TABLE perf.bulk_read (LIKE public.clips INCLUDING ALL);
ALTER TABLE perf.bulk_plain ADD FOREIGN KEY (user_id) REFERENCES public.users (id) ON DELETE CASCADE;
ALTER TABLE perf.bulk_row ADD FOREIGN KEY (user_id) REFERENCES public.users (id) ON DELETE CASCADE;
ALTER TABLE perf.bulk_stmt ADD FOREIGN KEY (user_id) REFERENCES public.users (id) ON DELETE CASCADE;
ALTER TABLE perf.bulk_read ADD FOREIGN KEY (user_id) REFERENCES public.users (id) ON DELETE CASCADE;

CREATE TRIGGER enforce_clip_limit_trigger AFTER INSERT ON perf.bulk_row
  FOR EACH ROW EXECUTE FUNCTION perf.enforce_clip_limit_row();

DO $copy$
BEGIN
  EXECUTE replace(
    (SELECT pg_get_triggerdef(t.oid) FROM pg_trigger AS t
      WHERE t.tgrelid = 'public.clips'::regclass AND t.tgname = 'enforce_clip_limit_trigger'),
    ' ON public.clips ', ' ON perf.bulk_stmt ');
END
$copy$;

CREATE FUNCTION perf.read_transition() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $f$
DECLARE
  v_n pg_catalog.int8;
BEGIN
  SELECT pg_catalog.count(*) INTO v_n FROM inserted_clips;
  RETURN NULL;
END
$f$;
CREATE TRIGGER read_transition AFTER INSERT ON perf.bulk_read
  REFERENCING NEW TABLE AS inserted_clips
  FOR EACH STATEMENT EXECUTE FUNCTION perf.read_transition();

GRANT ALL ON ALL TABLES IN SCHEMA perf TO anon, authenticated, service_role;

-- Candidate statement-level bodies, measured beside the installed one (same
-- trigger, AFTER INSERT ... REFERENCING NEW TABLE AS inserted_clips FOR EACH
-- STATEMENT, each on its own twin table perf.bulk_<name>). Their admitted
-- path is complete; their refusal is a bare RAISE (measurement only).
CREATE FUNCTION perf.make_bulk(p_name text, p_declare text, p_body text) RETURNS void
LANGUAGE plpgsql AS $make$
BEGIN
  EXECUTE format($tpl$
CREATE FUNCTION perf.%1$s() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $f$
DECLARE
  %2$s
BEGIN
  %3$s
END
$f$;
CREATE TABLE perf.bulk_%1$s (LIKE public.clips INCLUDING ALL);
ALTER TABLE perf.bulk_%1$s ADD FOREIGN KEY (user_id) REFERENCES public.users (id) ON DELETE CASCADE;
CREATE TRIGGER enforce_clip_limit_trigger AFTER INSERT ON perf.bulk_%1$s
  REFERENCING NEW TABLE AS inserted_clips
  FOR EACH STATEMENT EXECUTE FUNCTION perf.%1$s();
$tpl$, p_name, p_declare, p_body);
END
$make$;

-- charge_check: one statement; charge every user (upsert of the per-user
-- counts, in user_id order), then look up the limits of the charged rows
-- and refuse when any is over (the exception undoes the charge).
SELECT perf.make_bulk('charge_check', 'v_over record;', $b$
  WITH charged AS (
    INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
    SELECT c.user_id, pg_catalog.count(*)::pg_catalog.int4,
           (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date
      FROM inserted_clips AS c
     GROUP BY c.user_id
     ORDER BY c.user_id
    ON CONFLICT (user_id) DO UPDATE
       SET clips_this_month = CASE WHEN uu.clips_period_start < excluded.clips_period_start
                                   THEN excluded.clips_this_month
                                   ELSE COALESCE(uu.clips_this_month, 0) + excluded.clips_this_month END,
           clips_period_start = GREATEST(uu.clips_period_start, excluded.clips_period_start)
    RETURNING uu.user_id, uu.clips_this_month
  )
  SELECT ch.user_id INTO v_over
    FROM charged AS ch
    LEFT JOIN public.users AS u ON u.id = ch.user_id
    LEFT JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
   WHERE NOT COALESCE(ch.clips_this_month <= COALESCE(cl.monthly_limit,
                        (SELECT f.monthly_limit FROM public.clip_limits AS f WHERE f.tier = 'free')), false)
   ORDER BY ch.user_id
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'Clip limit reached' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
$b$);

-- lims: one statement; the per-user counts and limits in a MATERIALIZED
-- CTE, the upsert admitting only under the limit (the limit read from the
-- CTE in the conflict WHERE), the refused users found by anti-join.
SELECT perf.make_bulk('lims', 'v_refused record;', $b$
  WITH lims AS MATERIALIZED (
    SELECT c.user_id, pg_catalog.count(*)::pg_catalog.int4 AS clips,
           COALESCE(cl.monthly_limit,
                    (SELECT f.monthly_limit FROM public.clip_limits AS f WHERE f.tier = 'free')) AS monthly_limit
      FROM inserted_clips AS c
      LEFT JOIN public.users AS u ON u.id = c.user_id
      LEFT JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
     GROUP BY c.user_id, cl.monthly_limit
  ), charged AS (
    INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
    SELECT l.user_id, l.clips, (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date
      FROM lims AS l
     WHERE l.monthly_limit >= l.clips
     ORDER BY l.user_id
    ON CONFLICT (user_id) DO UPDATE
       SET clips_this_month = CASE WHEN uu.clips_period_start < excluded.clips_period_start
                                   THEN excluded.clips_this_month
                                   ELSE COALESCE(uu.clips_this_month, 0) + excluded.clips_this_month END,
           clips_period_start = GREATEST(uu.clips_period_start, excluded.clips_period_start)
     WHERE (CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 0
                 ELSE COALESCE(uu.clips_this_month, 0) END)
           <= (SELECT l.monthly_limit FROM lims AS l WHERE l.user_id = excluded.user_id) - excluded.clips_this_month
    RETURNING uu.user_id
  )
  SELECT l.user_id INTO v_refused
    FROM lims AS l
   WHERE NOT EXISTS (SELECT 1 FROM charged AS ch WHERE ch.user_id = l.user_id)
   ORDER BY l.user_id
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'Clip limit reached' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
$b$);

-- probe: one query reads the first inserted clip with its user's tier limit
-- and counts the clips; a one-clip statement then runs V5's upsert, a
-- bigger one walks the per-user aggregate (cursor) through the same upsert.
SELECT perf.make_bulk('probe', 'v_user pg_catalog.uuid; v_limit pg_catalog.int4; v_rows pg_catalog.int8; v_clips pg_catalog.int4 := 1; v_users pg_catalog.refcursor;', $b$
  SELECT c.user_id, cl.monthly_limit, (SELECT pg_catalog.count(*) FROM inserted_clips)
    INTO v_user, v_limit, v_rows
    FROM inserted_clips AS c
    LEFT JOIN public.users AS u ON u.id = c.user_id
    LEFT JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
   LIMIT 1;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF v_rows > 1 THEN
    OPEN v_users FOR
      SELECT c.user_id,
             pg_catalog.count(*)::pg_catalog.int4 AS clips,
             cl.monthly_limit
        FROM inserted_clips AS c
        LEFT JOIN public.users AS u ON u.id = c.user_id
        LEFT JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
       GROUP BY c.user_id, cl.monthly_limit
       ORDER BY c.user_id;
  END IF;
  LOOP
    IF v_rows > 1 THEN
      FETCH v_users INTO v_user, v_clips, v_limit;
      EXIT WHEN NOT FOUND;
    END IF;
    IF v_limit IS NULL THEN
      SELECT cl.monthly_limit INTO v_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free';
    END IF;
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
        EXIT WHEN v_rows = 1;
        CONTINUE;
      END IF;
    END IF;
    RAISE EXCEPTION 'Clip limit reached' USING ERRCODE = 'check_violation';
  END LOOP;
  RETURN NULL;
$b$);
-- probe_nocount: the probe without the count (the lower bound of a
-- one-clip path that still reads its transition table with the lookup)
SELECT perf.make_bulk('probe_nocount', 'v_user pg_catalog.uuid; v_limit pg_catalog.int4;', $b$
  SELECT c.user_id, cl.monthly_limit
    INTO v_user, v_limit
    FROM inserted_clips AS c
    LEFT JOIN public.users AS u ON u.id = c.user_id
    LEFT JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
   LIMIT 1;
  INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
  VALUES (v_user, 1, (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date)
  ON CONFLICT (user_id) DO UPDATE
     SET clips_this_month = CASE WHEN uu.clips_period_start < excluded.clips_period_start
                                 THEN excluded.clips_this_month
                                 ELSE COALESCE(uu.clips_this_month, 0) + excluded.clips_this_month END,
         clips_period_start = GREATEST(uu.clips_period_start, excluded.clips_period_start)
   WHERE (CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 0
               ELSE COALESCE(uu.clips_this_month, 0) END) <= v_limit - excluded.clips_this_month;
  RETURN NULL;
$b$);

GRANT ALL ON ALL TABLES IN SCHEMA perf TO anon, authenticated, service_role;
