-- The roles an API request can run as, besides service_role: anon,
-- authenticated, and every role that inherits the privileges of either (a
-- custom role PostgREST switches to, a login role granted authenticated).
-- Left out: superusers, service_role and whoever can use it, the owner of
-- public.users and its members, and the role quota connects as — they are
-- trusted, not the API.
SELECT r.rolname::text
  FROM pg_catalog.pg_roles AS r
 WHERE NOT r.rolsuper
   AND r.rolname <> 'service_role'
   AND r.rolname <> current_user
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS a
                WHERE a.rolname IN ('anon', 'authenticated')
                  AND pg_catalog.pg_has_role(r.oid, a.oid, 'USAGE'))
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS s
                    WHERE s.rolname = 'service_role'
                      AND pg_catalog.pg_has_role(r.oid, s.oid, 'USAGE'))
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
                    WHERE c.oid = pg_catalog.to_regclass('public.users')
                      AND pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE'))
 ORDER BY r.rolname NOT IN ('anon', 'authenticated'), r.rolname
