-- The application's functions that run inside quota's writes: every
-- trigger on the tables quota's SECURITY DEFINER code writes ($2: the
-- default mapping's public.users and public.user_usage, or a mapping's
-- counter tables), so their triggers run as its owner, and a trigger on
-- the tables whose inserts are charged ($3: public.clips, or a mapping's
-- trigger tables) only when its function is SECURITY DEFINER (the application
-- inserts clips as the calling user, so an ordinary clips trigger runs as
-- that user; a SECURITY DEFINER one runs as its owner, with the path in
-- force), quota's own trigger function left out (its own check covers it),
-- and the functions those call, as far as pg_depend
-- (SQL-standard bodies) and the source text (a name followed by "(") show,
-- three calls deep. Callees in schemas the platform manages (auth.uid(),
-- extensions) are not the application's to alter and are left out.
-- $1: the API roles; $2, $3: the tables, as regclass text. Per function: its qualified signature, how it is
-- reached, its pinned search_path (NULL when unset), the relations its
-- source names without a schema (name and the schemas holding one, as
-- "name:schema"), and the schemas an API role may CREATE in.
WITH RECURSIVE fired AS (
  SELECT t.tgfoid AS fn,
         pg_catalog.format('trigger %I on %I.%I', t.tgname, n.nspname, c.relname) AS via
    FROM pg_catalog.pg_trigger AS t
    JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_proc AS tp ON tp.oid = t.tgfoid
   WHERE NOT t.tgisinternal
     AND (t.tgrelid IN (SELECT pg_catalog.to_regclass(x) FROM unnest($2::text[]) AS x)
          OR (t.tgrelid IN (SELECT pg_catalog.to_regclass(x) FROM unnest($3::text[]) AS x)
              AND tp.prosecdef))
     AND tp.pronamespace <> pg_catalog.to_regnamespace('quota')
     AND t.tgfoid IS DISTINCT FROM pg_catalog.to_regprocedure('public.enforce_clip_limit()')
), candidates AS (
  SELECT p.oid, p.proname
    FROM pg_catalog.pg_proc AS p
    JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
    JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'auth', 'extensions', 'storage',
                           'realtime', 'graphql', 'graphql_public', 'pgsodium', 'vault', 'net',
                           'cron', 'supabase_functions', 'pgbouncer', 'quota')
     AND n.nspname NOT LIKE 'pg\_%'
     AND l.lanname NOT IN ('c', 'internal')
     AND p.oid IS DISTINCT FROM pg_catalog.to_regprocedure('public.increment_usage_if_allowed(uuid)')
     AND p.oid IS DISTINCT FROM pg_catalog.to_regprocedure('public.enforce_clip_limit()')
), reach (fn, via, depth) AS (
  SELECT f.fn, f.via, 0 FROM fired AS f
  UNION
  SELECT cand.oid,
         pg_catalog.format('called by %I.%I(%s)', cn.nspname, caller.proname,
                           pg_catalog.pg_get_function_identity_arguments(caller.oid)),
         r.depth + 1
    FROM reach AS r
    JOIN pg_catalog.pg_proc AS caller ON caller.oid = r.fn
    JOIN pg_catalog.pg_namespace AS cn ON cn.oid = caller.pronamespace
    -- What the caller calls: every name followed by "(" in its source (one
    -- scan per caller), and the functions pg_depend records for it.
    CROSS JOIN LATERAL (SELECT (pg_catalog.regexp_matches(pg_catalog.lower(caller.prosrc),
                                  '([a-z_][a-z0-9_$]*)\s*\(', 'g'))[1] AS name
                        UNION
                        SELECT p2.proname::text
                          FROM pg_catalog.pg_depend AS d
                          JOIN pg_catalog.pg_proc AS p2 ON p2.oid = d.refobjid
                         WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = caller.oid
                           AND d.refclassid = 'pg_catalog.pg_proc'::regclass) AS called
    JOIN candidates AS cand ON cand.proname::text = called.name AND cand.oid <> caller.oid
   WHERE r.depth < 3
)
SELECT pg_catalog.format('%I.%I(%s)', n.nspname, p.proname,
                         pg_catalog.pg_get_function_identity_arguments(p.oid)) AS signature,
       ARRAY(SELECT DISTINCT r2.via FROM reach AS r2 WHERE r2.fn = p.oid ORDER BY 1) AS via,
       (SELECT cfg FROM unnest(p.proconfig) AS cfg WHERE cfg LIKE 'search\_path=%' LIMIT 1) AS search_path,
       ARRAY(SELECT DISTINCT m.name || ':' || rn.nspname
               FROM (SELECT (pg_catalog.regexp_matches(pg_catalog.lower(p.prosrc),
                              '\m(?:from|join|into|update|table|exists)\s+([a-z_][a-z0-9_$.]*)', 'g'))[1] AS name) AS m
               JOIN pg_catalog.pg_class AS rc ON rc.relname = m.name
                                             AND rc.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
               JOIN pg_catalog.pg_namespace AS rn ON rn.oid = rc.relnamespace
              WHERE rn.nspname NOT IN ('pg_catalog', 'information_schema')
                AND rn.nspname NOT LIKE 'pg\_%'
              ORDER BY 1) AS unqualified,
       ARRAY(SELECT s.nspname::text
               FROM pg_catalog.pg_namespace AS s
              WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS ro
                             WHERE ro.rolname = ANY ($1)
                               AND pg_catalog.has_schema_privilege(ro.oid, s.oid, 'CREATE'))
              ORDER BY 1) AS creatable
  FROM pg_catalog.pg_proc AS p
  JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
  JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
 WHERE p.oid IN (SELECT r.fn FROM reach AS r)
   AND l.lanname NOT IN ('c', 'internal')
 ORDER BY 1
