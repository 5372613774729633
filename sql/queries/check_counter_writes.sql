-- For each role in $1 that exists and each way to change a counter, a period
-- marker, a limit or the tier behind it: whether the role holds the
-- privilege (directly, through PUBLIC or a membership), whether row level
-- security is out of its way, and which permissive policies would let it
-- through. A role can write only with the privilege AND (no RLS in its way
-- OR an applicable permissive policy). TRUNCATE is left out: PostgREST,
-- the only path of the API roles, cannot issue it.
WITH targets (rel, col, cmd) AS (
  VALUES ('public.users', 'usage_this_month', 'UPDATE'),
         ('public.users', 'plan_limits_scrapes', 'UPDATE'),
         ('public.users', 'usage_period_start', 'UPDATE'),
         ('public.users', 'subscription_tier', 'UPDATE'),
         ('public.user_usage', 'clips_this_month', 'UPDATE'),
         ('public.user_usage', 'clips_period_start', 'UPDATE'),
         ('public.user_usage', NULL, 'INSERT'),
         ('public.user_usage', NULL, 'DELETE'),
         ('public.clip_limits', NULL, 'INSERT'),
         ('public.clip_limits', NULL, 'UPDATE'),
         ('public.clip_limits', NULL, 'DELETE')
), rels AS (
  SELECT t.rel, t.col, t.cmd, c.oid AS relid, c.relrowsecurity, c.relforcerowsecurity, c.relowner
    FROM targets AS t
    JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(t.rel)
   WHERE t.col IS NULL
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                  WHERE a.attrelid = c.oid AND a.attname = t.col AND a.attnum > 0 AND NOT a.attisdropped)
)
SELECT ro.rolname::text AS role,
       r.rel,
       r.col,
       r.cmd,
       CASE WHEN r.col IS NOT NULL THEN pg_catalog.has_column_privilege(ro.oid, r.relid, r.col, r.cmd)
            WHEN r.cmd = 'DELETE' THEN pg_catalog.has_table_privilege(ro.oid, r.relid, r.cmd)
            ELSE pg_catalog.has_any_column_privilege(ro.oid, r.relid, r.cmd) END AS privileged,
       CASE WHEN NOT r.relrowsecurity THEN 'row level security is disabled'
            WHEN ro.rolbypassrls THEN 'the role has BYPASSRLS'
            WHEN NOT r.relforcerowsecurity AND pg_catalog.pg_has_role(ro.oid, r.relowner, 'USAGE')
              THEN 'the role owns the table'
       END AS rls_bypass,
       ARRAY(SELECT p.polname::text
               FROM pg_catalog.pg_policy AS p
              WHERE p.polrelid = r.relid
                AND p.polpermissive
                AND p.polcmd::text IN ('*', CASE r.cmd WHEN 'UPDATE' THEN 'w' WHEN 'INSERT' THEN 'a' ELSE 'd' END)
                AND EXISTS (SELECT 1 FROM unnest(p.polroles) AS pr
                             WHERE CASE WHEN pr = 0 THEN true
                                        ELSE pg_catalog.pg_has_role(ro.oid, pr, 'MEMBER') END)
              ORDER BY p.polname) AS policies
  FROM rels AS r
 CROSS JOIN pg_catalog.pg_roles AS ro
 WHERE ro.rolname = ANY ($1)
 ORDER BY ro.rolname, r.rel, r.cmd, r.col
