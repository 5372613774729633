-- Candidate bodies for the per-call measurements in docs/performance.md.
-- Loaded by scripts/callgrind-per-call.sh and scripts/pgbench-ratio.sh into a
-- throwaway cluster after sql/demo/schema.sql and sql/migrations/V*.sql.
-- Everything lives in schema perf; the functions read and write the real
-- public tables, the triggers sit on clips-shaped copies (no foreign keys,
-- as `quota bench` does), so every variant can be measured side by side.

CREATE SCHEMA perf;
-- As on Supabase: service_role bypasses row level security.
ALTER ROLE service_role BYPASSRLS;
GRANT USAGE ON SCHEMA perf TO anon, authenticated, service_role;

-- Limits high enough that no measured call is ever refused.
UPDATE public.users SET plan_limits_scrapes = 2147483647, usage_this_month = 0;
UPDATE public.clip_limits SET monthly_limit = 2147483647;
-- Users for the pgbench clients (ids ...-000000000NNN, tier pro).
INSERT INTO public.users (id, email, plan_limits_scrapes, subscription_tier)
SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
       'bench' || n || '@example.com', 2147483647, 'pro'
  FROM generate_series(0, 255) AS n;
INSERT INTO public.user_usage (user_id, clips_this_month)
SELECT id, 0 FROM public.users ON CONFLICT (user_id) DO NOTHING;

-- A few rows per heap page (psql variable spread, true unless PERF_SPREAD=false
-- in scripts/perf/common.sh): updates of a user's row stay HOT on its own
-- page, so every case sees the same steady state, and the users of different
-- pgbench clients (client n works on user 32n) never share a page; otherwise
-- 8 clients updating "their own" rows fight over one page's buffer lock and
-- HOT pruning instead of measuring the call.
\if :spread
ALTER TABLE public.users SET (fillfactor = 10);
ALTER TABLE public.user_usage SET (fillfactor = 10);
VACUUM FULL public.users;
VACUUM FULL public.user_usage;
\endif

-- ---------------------------------------------------------------- RPC ----

-- today's V2, verbatim (search_path '', claims parsed as jsonb on every call)
CREATE FUNCTION perf.rpc_v2(p_user_id uuid)
RETURNS TABLE (allowed boolean, new_usage integer, effective_limit integer, plan text, subscription_status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $f$
#variable_conflict use_column
DECLARE
  v_period date := (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date;
  v_claims jsonb := NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb;
BEGIN
  IF v_claims ->> 'role' = 'authenticated'
     AND pg_catalog.lower(v_claims ->> 'sub') IS DISTINCT FROM p_user_id::text THEN
    RAISE EXCEPTION 'increment_usage_if_allowed: caller may not spend the quota of user %', p_user_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
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
  RETURN QUERY
  SELECT false, CASE WHEN u.usage_period_start < v_period THEN 0 ELSE COALESCE(u.usage_this_month, 0) END,
         u.plan_limits_scrapes, u.plan, u.subscription_status
    FROM public.users AS u WHERE u.id = p_user_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'increment_usage_if_allowed: no user with id %', p_user_id USING ERRCODE = 'no_data_found';
  END IF;
END
$f$;

-- V2 with only the search_path changed to pg_catalog, pg_temp
CREATE FUNCTION perf.rpc_v2_sp(p_user_id uuid)
RETURNS TABLE (allowed boolean, new_usage integer, effective_limit integer, plan text, subscription_status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $f$
#variable_conflict use_column
DECLARE
  v_period date := (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date;
  v_claims jsonb := NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb;
BEGIN
  IF v_claims ->> 'role' = 'authenticated'
     AND pg_catalog.lower(v_claims ->> 'sub') IS DISTINCT FROM p_user_id::text THEN
    RAISE EXCEPTION 'increment_usage_if_allowed: caller may not spend the quota of user %', p_user_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
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
  RETURN QUERY
  SELECT false, CASE WHEN u.usage_period_start < v_period THEN 0 ELSE COALESCE(u.usage_this_month, 0) END,
         u.plan_limits_scrapes, u.plan, u.subscription_status
    FROM public.users AS u WHERE u.id = p_user_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'increment_usage_if_allowed: no user with id %', p_user_id USING ERRCODE = 'no_data_found';
  END IF;
END
$f$;

-- The RPC candidates share one body (check-and-increment UPDATE under the
-- row lock, then the refused / unknown-user path) and differ in the guard.
-- %1$s = name, %2$s = DECLARE lines, %3$s = guard statements.
CREATE FUNCTION perf.make_rpc(p_name text, p_declare text, p_guard text) RETURNS void
LANGUAGE plpgsql AS $make$
BEGIN
  EXECUTE format($tpl$
CREATE FUNCTION perf.%1$s(p_user_id uuid)
RETURNS TABLE (allowed boolean, new_usage integer, effective_limit integer, plan text, subscription_status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $f$
#variable_conflict use_column
DECLARE
  v_period pg_catalog.date := (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date;
  %2$s
BEGIN
  %3$s
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
  RETURN QUERY
  SELECT false, CASE WHEN u.usage_period_start < v_period THEN 0 ELSE COALESCE(u.usage_this_month, 0) END,
         u.plan_limits_scrapes, u.plan, u.subscription_status
    FROM public.users AS u WHERE u.id = p_user_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'increment_usage_if_allowed: no user with id %%', p_user_id USING ERRCODE = 'no_data_found';
  END IF;
END
$f$;
$tpl$, p_name, p_declare, p_guard);
END
$make$;

-- no guard at all: the price of the function without any JWT work
SELECT perf.make_rpc('rpc_noguard', '', '');

-- sec's V4 draft: role first; per-claim sub and the claims text both read,
-- the JSON parsed (as json) only when the per-claim sub is absent
SELECT perf.make_rpc('rpc_v4draft',
$d$
  v_role pg_catalog.text := pg_catalog.current_setting('role');
  v_claims pg_catalog.text;
  v_sub pg_catalog.text;
$d$,
$g$
  IF v_role IS DISTINCT FROM 'service_role' THEN
    v_sub := NULLIF(pg_catalog.current_setting('request.jwt.claim.sub', true), '');
    v_claims := NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '');
    IF v_sub IS NULL AND v_claims IS NOT NULL THEN
      v_sub := NULLIF(v_claims::pg_catalog.json ->> 'sub', '');
    END IF;
    IF v_role = 'none' AND v_sub IS NULL AND v_claims IS NULL
       AND NULLIF(pg_catalog.current_setting('request.jwt.claim.role', true), '') IS NULL THEN
      NULL;
    ELSIF v_sub IS NULL OR pg_catalog.lower(v_sub) <> p_user_id::pg_catalog.text THEN
      RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
$g$);

-- JSON first, no role shortcut: every caller parses the claims (as json)
SELECT perf.make_rpc('rpc_json_always',
$d$
  v_claims pg_catalog.text := NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '');
  v_sub pg_catalog.text := NULLIF(v_claims::pg_catalog.json ->> 'sub', '');
  v_role pg_catalog.text := pg_catalog.current_setting('role');
$d$,
$g$
  IF v_role = 'service_role' THEN
    NULL;
  ELSIF v_role = 'none' AND v_claims IS NULL
        AND NULLIF(pg_catalog.current_setting('request.jwt.claim.sub', true), '') IS NULL
        AND NULLIF(pg_catalog.current_setting('request.jwt.claim.role', true), '') IS NULL THEN
    NULL;
  ELSIF pg_catalog.lower(COALESCE(v_sub, NULLIF(pg_catalog.current_setting('request.jwt.claim.sub', true), ''))) IS DISTINCT FROM p_user_id::pg_catalog.text THEN
    RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
  END IF;
$g$);

-- role first, then the claims JSON parsed as jsonb (no per-claim setting)
SELECT perf.make_rpc('rpc_role_jsonb',
$d$
  v_claims pg_catalog.text;
  v_sub pg_catalog.text;
$d$,
$g$
  IF pg_catalog.current_setting('role') <> 'service_role' THEN
    v_claims := pg_catalog.current_setting('request.jwt.claims', true);
    IF v_claims <> '' THEN
      v_sub := v_claims::pg_catalog.jsonb ->> 'sub';
    END IF;
    IF v_sub IS NULL OR v_sub = '' THEN
      IF pg_catalog.current_setting('role') <> 'none' OR v_claims <> ''
         OR pg_catalog.current_setting('request.jwt.claim.sub', true) <> ''
         OR pg_catalog.current_setting('request.jwt.claim.role', true) <> '' THEN
        RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
      END IF;
    ELSIF pg_catalog.lower(v_sub) <> p_user_id::pg_catalog.text THEN
      RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
$g$);

-- the same with json instead of jsonb (parse without building a tree)
SELECT perf.make_rpc('rpc_role_json',
$d$
  v_claims pg_catalog.text;
  v_sub pg_catalog.text;
$d$,
$g$
  IF pg_catalog.current_setting('role') <> 'service_role' THEN
    v_claims := pg_catalog.current_setting('request.jwt.claims', true);
    IF v_claims <> '' THEN
      v_sub := v_claims::pg_catalog.json ->> 'sub';
    END IF;
    IF v_sub IS NULL OR v_sub = '' THEN
      IF pg_catalog.current_setting('role') <> 'none' OR v_claims <> ''
         OR pg_catalog.current_setting('request.jwt.claim.sub', true) <> ''
         OR pg_catalog.current_setting('request.jwt.claim.role', true) <> '' THEN
        RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
      END IF;
    ELSIF pg_catalog.lower(v_sub) <> p_user_id::pg_catalog.text THEN
      RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
$g$);

-- lean: role first; the per-claim sub when set (older PostgREST), else the
-- claims parsed as json; the fall-back settings read only on the refusal path
SELECT perf.make_rpc('rpc_lean',
$d$
  v_claims pg_catalog.text;
  v_sub pg_catalog.text;
$d$,
$g$
  IF pg_catalog.current_setting('role') <> 'service_role' THEN
    v_sub := pg_catalog.current_setting('request.jwt.claim.sub', true);
    IF v_sub IS NULL OR v_sub = '' THEN
      v_claims := pg_catalog.current_setting('request.jwt.claims', true);
      IF v_claims <> '' THEN
        v_sub := v_claims::pg_catalog.json ->> 'sub';
      END IF;
    END IF;
    IF v_sub IS NULL OR v_sub = '' THEN
      IF pg_catalog.current_setting('role') <> 'none' OR v_claims <> ''
         OR pg_catalog.current_setting('request.jwt.claim.role', true) <> '' THEN
        RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
      END IF;
    ELSIF pg_catalog.lower(v_sub) <> p_user_id::pg_catalog.text THEN
      RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
$g$);

-- lean2: the whole guard is one IF with one expression (one PL/pgSQL
-- statement): service_role, or a direct session (no role switched, no JWT
-- setting at all), or the sub -- the per-claim setting when set, else the
-- claims JSON parsed as json -- equals p_user_id. Anything else, including a
-- missing sub or missing claims, is refused (NULL IS DISTINCT FROM text).
SELECT perf.make_rpc('rpc_lean2', '',
$g$
  IF NOT (pg_catalog.current_setting('role') = 'service_role'
          OR (pg_catalog.current_setting('role') = 'none'
              AND COALESCE(pg_catalog.current_setting('request.jwt.claims', true), '') = ''
              AND COALESCE(pg_catalog.current_setting('request.jwt.claim.sub', true), '') = ''
              AND COALESCE(pg_catalog.current_setting('request.jwt.claim.role', true), '') = ''))
     AND pg_catalog.lower(COALESCE(NULLIF(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                                   NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.json ->> 'sub'))
         IS DISTINCT FROM p_user_id::pg_catalog.text THEN
    RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
  END IF;
$g$);

-- lean_into: rpc_lean's guard; the admitted row comes back through the OUT
-- parameters (UPDATE ... RETURNING ... INTO; RETURN NEXT) instead of
-- RETURN QUERY
CREATE FUNCTION perf.rpc_lean_into(p_user_id uuid)
RETURNS TABLE (allowed boolean, new_usage integer, effective_limit integer, plan text, subscription_status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $f$
#variable_conflict use_column
DECLARE
  v_period pg_catalog.date := (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date;
  v_claims pg_catalog.text;
  v_sub pg_catalog.text;
BEGIN
  IF pg_catalog.current_setting('role') <> 'service_role' THEN
    v_sub := pg_catalog.current_setting('request.jwt.claim.sub', true);
    IF v_sub IS NULL OR v_sub = '' THEN
      v_claims := pg_catalog.current_setting('request.jwt.claims', true);
      IF v_claims <> '' THEN
        v_sub := v_claims::pg_catalog.json ->> 'sub';
      END IF;
    END IF;
    IF v_sub IS NULL OR v_sub = '' THEN
      IF pg_catalog.current_setting('role') <> 'none' OR v_claims <> ''
         OR pg_catalog.current_setting('request.jwt.claim.role', true) <> '' THEN
        RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
      END IF;
    ELSIF pg_catalog.lower(v_sub) <> p_user_id::pg_catalog.text THEN
      RAISE EXCEPTION 'caller may not spend the quota of user %', p_user_id USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  UPDATE public.users AS u
     SET usage_this_month = CASE WHEN u.usage_period_start < v_period THEN 1
                                 ELSE COALESCE(u.usage_this_month, 0) + 1 END,
         usage_period_start = v_period
   WHERE u.id = p_user_id
     AND (CASE WHEN u.usage_period_start < v_period THEN 0
               ELSE COALESCE(u.usage_this_month, 0) END) < u.plan_limits_scrapes
  RETURNING true, u.usage_this_month, u.plan_limits_scrapes, u.plan, u.subscription_status
       INTO allowed, new_usage, effective_limit, plan, subscription_status;
  IF NOT FOUND THEN
    SELECT false, CASE WHEN u.usage_period_start < v_period THEN 0 ELSE COALESCE(u.usage_this_month, 0) END,
           u.plan_limits_scrapes, u.plan, u.subscription_status
      INTO allowed, new_usage, effective_limit, plan, subscription_status
      FROM public.users AS u WHERE u.id = p_user_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'increment_usage_if_allowed: no user with id %', p_user_id USING ERRCODE = 'no_data_found';
    END IF;
  END IF;
  RETURN NEXT;
END
$f$;

-- lower bound for LANGUAGE sql: the admitted path only (no guard, no
-- refused row, no unknown-user error). PostgreSQL 15 re-plans a non-inlined
-- SQL function's body on every call.
CREATE FUNCTION perf.rpc_sql_happy(p_user_id uuid)
RETURNS TABLE (allowed boolean, new_usage integer, effective_limit integer, plan text, subscription_status text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $f$
  UPDATE public.users AS u
     SET usage_this_month = CASE WHEN u.usage_period_start < p.period THEN 1
                                 ELSE COALESCE(u.usage_this_month, 0) + 1 END,
         usage_period_start = p.period
    FROM (SELECT (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date AS period) AS p
   WHERE u.id = p_user_id
     AND (CASE WHEN u.usage_period_start < p.period THEN 0
               ELSE COALESCE(u.usage_this_month, 0) END) < u.plan_limits_scrapes
  RETURNING true, u.usage_this_month, u.plan_limits_scrapes, u.plan, u.subscription_status
$f$;

-- the fixed cost of any PL/pgSQL RPC: an empty SECURITY DEFINER function
-- with a pinned search_path returning one row
CREATE FUNCTION perf.rpc_empty(p_user_id uuid)
RETURNS TABLE (allowed boolean, new_usage integer, effective_limit integer, plan text, subscription_status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $f$
BEGIN
  RETURN QUERY SELECT true, 1, 1, 'x'::pg_catalog.text, 'x'::pg_catalog.text;
END
$f$;

-- ------------------------------------------------------------ trigger ----

-- clips-shaped tables: one plain (the floor), one per trigger variant
CREATE TABLE perf.clips_plain (LIKE public.clips INCLUDING ALL);

-- %1$s = name, %2$s = BEFORE/AFTER, %3$s = DECLARE lines, %4$s = body
CREATE FUNCTION perf.make_trigger(p_name text, p_timing text, p_declare text, p_body text) RETURNS void
LANGUAGE plpgsql AS $make$
BEGIN
  EXECUTE format($tpl$
CREATE FUNCTION perf.%1$s() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $f$
DECLARE
  %3$s
BEGIN
  %4$s
END
$f$;
CREATE TABLE perf.clips_%1$s (LIKE public.clips INCLUDING ALL);
CREATE TRIGGER enforce_clip_limit_trigger %2$s INSERT ON perf.clips_%1$s
  FOR EACH ROW EXECUTE FUNCTION perf.%1$s();
$tpl$, p_name, p_timing, p_declare, p_body);
END
$make$;

-- The refusal path every variant shares (never taken in the measurements).
CREATE FUNCTION perf.refusal() RETURNS text LANGUAGE sql AS $r$ SELECT $b$
  SELECT COALESCE(
           (SELECT cl.monthly_limit FROM public.users AS u
              JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
             WHERE u.id = NEW.user_id),
           (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free'))
    INTO v_limit;
  SELECT CASE WHEN uu.clips_period_start < (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date
              THEN 0 ELSE COALESCE(uu.clips_this_month, 0) END
    INTO v_used
    FROM public.user_usage AS uu WHERE uu.user_id = NEW.user_id;
  RAISE EXCEPTION 'Clip limit reached: % of % clips used this month', COALESCE(v_used, 0), COALESCE(v_limit, 0)
    USING ERRCODE = 'check_violation',
          DETAIL = pg_catalog.format('limit=%s usage=%s user_id=%s', COALESCE(v_limit, 0), COALESCE(v_used, 0), NEW.user_id);
$b$ $r$;

-- today's V3 body: limit lookup, then the upsert (two statements)
CREATE FUNCTION perf.v3_body(p_return text) RETURNS text LANGUAGE sql AS $r$ SELECT format($b$
  SELECT COALESCE(
           (SELECT cl.monthly_limit FROM public.users AS u
              JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
             WHERE u.id = NEW.user_id),
           (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free'))
    INTO v_limit;
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
      RETURN %s;
    END IF;
  END IF;
$b$, p_return) || perf.refusal() $r$;

-- sec's V4 draft: one statement, the limit in a MATERIALIZED CTE
CREATE FUNCTION perf.cte_body(p_return text) RETURNS text LANGUAGE sql AS $r$ SELECT format($b$
  WITH lim AS MATERIALIZED (
    SELECT COALESCE(
             (SELECT cl.monthly_limit FROM public.users AS u
                JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
               WHERE u.id = NEW.user_id),
             (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free')) AS monthly_limit
  )
  INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
  SELECT NEW.user_id, 1, v_period FROM lim WHERE lim.monthly_limit > 0
  ON CONFLICT (user_id) DO UPDATE
     SET clips_this_month = CASE WHEN uu.clips_period_start < v_period THEN 1
                                 ELSE COALESCE(uu.clips_this_month, 0) + 1 END,
         clips_period_start = v_period
   WHERE (CASE WHEN uu.clips_period_start < v_period THEN 0
               ELSE COALESCE(uu.clips_this_month, 0) END) < (SELECT lim.monthly_limit FROM lim)
  RETURNING uu.clips_this_month INTO v_used;
  IF v_used IS NOT NULL THEN
    RETURN %s;
  END IF;
$b$, p_return) || perf.refusal() $r$;

-- one statement, no CTE: the limit as a scalar subquery in the proposed row's
-- WHERE and again in ON CONFLICT's WHERE; the period computed once in the
-- proposed row and read back as excluded.clips_period_start; FOUND, no INTO
CREATE FUNCTION perf.lean_body(p_return text) RETURNS text LANGUAGE sql AS $r$ SELECT format($b$
  INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
  SELECT NEW.user_id, 1, (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date
   WHERE COALESCE(
           (SELECT cl.monthly_limit FROM public.users AS u
              JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
             WHERE u.id = NEW.user_id),
           (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free')) > 0
  ON CONFLICT (user_id) DO UPDATE
     SET clips_this_month = CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 1
                                 ELSE COALESCE(uu.clips_this_month, 0) + 1 END,
         clips_period_start = excluded.clips_period_start
   WHERE (CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 0
               ELSE COALESCE(uu.clips_this_month, 0) END)
         < COALESCE(
             (SELECT cl.monthly_limit FROM public.users AS u
                JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
               WHERE u.id = uu.user_id),
             (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free'));
  IF FOUND THEN
    RETURN %s;
  END IF;
$b$, p_return) || perf.refusal() $r$;

-- the CTE statement with the lean details (excluded period, FOUND)
CREATE FUNCTION perf.ctelean_body(p_return text) RETURNS text LANGUAGE sql AS $r$ SELECT format($b$
  WITH lim AS MATERIALIZED (
    SELECT COALESCE(
             (SELECT cl.monthly_limit FROM public.users AS u
                JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
               WHERE u.id = NEW.user_id),
             (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free')) AS monthly_limit
  )
  INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
  SELECT NEW.user_id, 1, (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date
    FROM lim WHERE lim.monthly_limit > 0
  ON CONFLICT (user_id) DO UPDATE
     SET clips_this_month = CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 1
                                 ELSE COALESCE(uu.clips_this_month, 0) + 1 END,
         clips_period_start = excluded.clips_period_start
   WHERE (CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 0
               ELSE COALESCE(uu.clips_this_month, 0) END) < (SELECT lim.monthly_limit FROM lim);
  IF FOUND THEN
    RETURN %s;
  END IF;
$b$, p_return) || perf.refusal() $r$;

-- the upsert alone with the limit as a constant: what the limit lookup costs
CREATE FUNCTION perf.nolookup_body(p_return text) RETURNS text LANGUAGE sql AS $r$ SELECT format($b$
  INSERT INTO public.user_usage AS uu (user_id, clips_this_month, clips_period_start)
  VALUES (NEW.user_id, 1, (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date)
  ON CONFLICT (user_id) DO UPDATE
     SET clips_this_month = CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 1
                                 ELSE COALESCE(uu.clips_this_month, 0) + 1 END,
         clips_period_start = excluded.clips_period_start
   WHERE (CASE WHEN uu.clips_period_start < excluded.clips_period_start THEN 0
               ELSE COALESCE(uu.clips_this_month, 0) END) < 2147483647;
  IF FOUND THEN
    RETURN %s;
  END IF;
$b$, p_return) || perf.refusal() $r$;

-- V3's two statements with the lean details: the limit into a variable,
-- then the upsert with the period computed once in the proposed row
-- (excluded.clips_period_start) and FOUND instead of RETURNING INTO
CREATE FUNCTION perf.v3lean_body(p_return text) RETURNS text LANGUAGE sql AS $r$ SELECT format($b$
  SELECT COALESCE(
           (SELECT cl.monthly_limit FROM public.users AS u
              JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
             WHERE u.id = NEW.user_id),
           (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free'))
    INTO v_limit;
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
      RETURN %s;
    END IF;
  END IF;
$b$, p_return) || perf.refusal() $r$;

-- v3lean2: as v3lean, but the limit by a plain join (NOT FOUND: the free
-- limit) instead of COALESCE over two scalar subqueries
CREATE FUNCTION perf.v3lean2_body(p_return text) RETURNS text LANGUAGE sql AS $r$ SELECT format($b$
  SELECT cl.monthly_limit INTO v_limit
    FROM public.users AS u
    JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
   WHERE u.id = NEW.user_id;
  IF NOT FOUND THEN
    SELECT cl.monthly_limit INTO v_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free';
  END IF;
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
      RETURN %s;
    END IF;
  END IF;
$b$, p_return) || perf.refusal() $r$;

CREATE FUNCTION perf.trg_decl() RETURNS text LANGUAGE sql AS $r$ SELECT $d$
  v_period pg_catalog.date := (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date;
  v_limit pg_catalog.int4;
  v_used pg_catalog.int4;
$d$ $r$;

SELECT perf.make_trigger('trg_v3_before', 'BEFORE', perf.trg_decl(), perf.v3_body('NEW'));
SELECT perf.make_trigger('trg_v3_after', 'AFTER', perf.trg_decl(), perf.v3_body('NULL'));
SELECT perf.make_trigger('trg_cte_after', 'AFTER', perf.trg_decl(), perf.cte_body('NULL'));
SELECT perf.make_trigger('trg_cte_before', 'BEFORE', perf.trg_decl(), perf.cte_body('NEW'));
SELECT perf.make_trigger('trg_lean_after', 'AFTER', 'v_limit pg_catalog.int4; v_used pg_catalog.int4;', perf.lean_body('NULL'));
SELECT perf.make_trigger('trg_lean_before', 'BEFORE', 'v_limit pg_catalog.int4; v_used pg_catalog.int4;', perf.lean_body('NEW'));
SELECT perf.make_trigger('trg_ctelean_after', 'AFTER', 'v_limit pg_catalog.int4; v_used pg_catalog.int4;', perf.ctelean_body('NULL'));
SELECT perf.make_trigger('trg_v3lean_after', 'AFTER', 'v_limit pg_catalog.int4; v_used pg_catalog.int4;', perf.v3lean_body('NULL'));
SELECT perf.make_trigger('trg_v3lean2_after', 'AFTER', 'v_limit pg_catalog.int4; v_used pg_catalog.int4;', perf.v3lean2_body('NULL'));
SELECT perf.make_trigger('trg_nolookup_after', 'AFTER', 'v_limit pg_catalog.int4; v_used pg_catalog.int4;', perf.nolookup_body('NULL'));
SELECT perf.make_trigger('trg_empty_after', 'AFTER', '', 'RETURN NULL;');
SELECT perf.make_trigger('trg_empty_before', 'BEFORE', '', 'RETURN NEW;');

-- the trigger installed on public.clips by sql/migrations (function and
-- timing as installed), copied onto a perf table
CREATE TABLE perf.clips_trg_installed (LIKE public.clips INCLUDING ALL);
DO $copy$
BEGIN
  EXECUTE replace(
    (SELECT pg_get_triggerdef(t.oid) FROM pg_trigger AS t
      WHERE t.tgrelid = 'public.clips'::regclass AND t.tgname = 'enforce_clip_limit_trigger'),
    ' ON public.clips ', ' ON perf.clips_trg_installed ');
END
$copy$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA perf TO anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA perf TO anon, authenticated, service_role;
