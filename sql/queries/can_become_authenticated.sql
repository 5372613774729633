-- The roles the guard test runs as: `authenticated`, `anon` and every role
-- that inherits either (a custom role PostgREST may switch to), each only
-- where this session may SET ROLE to it and it can execute the RPC ($1), so
-- a refusal is the guard's (anon normally cannot execute it at all: the
-- grants check covers that). `authenticated` first.
SELECT r.rolname::text
  FROM pg_catalog.pg_roles AS r
 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS a
                WHERE a.rolname IN ('authenticated', 'anon')
                  AND pg_catalog.pg_has_role(r.oid, a.oid, 'USAGE'))
   AND NOT r.rolsuper
   AND r.rolname <> current_user
   AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')
   AND pg_catalog.has_function_privilege(r.oid, $1, 'EXECUTE')
 ORDER BY r.rolname <> 'authenticated', r.rolname
 LIMIT 5
