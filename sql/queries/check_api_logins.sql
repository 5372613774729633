-- LOGIN roles that inherit the privileges of an API role (anon,
-- authenticated, service_role): a raw SQL session as one of them switches
-- no role, so the RPC's guard sees a direct session (and it may set
-- request.jwt.claims itself). Left out: superusers, the role quota connects
-- as, the owner of public.users and its members (trusted, not the API), and
-- NOINHERIT logins such as PostgREST's authenticator, which only switch
-- roles per request. Per login: the API roles it inherits, and its own
-- memberships that carry them (what a REVOKE names).
SELECT r.rolname::text AS login,
       ARRAY(SELECT a.rolname::text
               FROM pg_catalog.pg_roles AS a
              WHERE a.rolname IN ('anon', 'authenticated', 'service_role')
                AND pg_catalog.pg_has_role(r.oid, a.oid, 'USAGE')
              ORDER BY a.rolname) AS inherits,
       ARRAY(SELECT DISTINCT g.rolname::text
               FROM pg_catalog.pg_auth_members AS m
               JOIN pg_catalog.pg_roles AS g ON g.oid = m.roleid
              WHERE m.member = r.oid
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS a
                             WHERE a.rolname IN ('anon', 'authenticated', 'service_role')
                               AND pg_catalog.pg_has_role(g.oid, a.oid, 'USAGE'))
              ORDER BY 1) AS via
  FROM pg_catalog.pg_roles AS r
 WHERE r.rolcanlogin
   AND NOT r.rolsuper
   AND r.rolname <> current_user
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS a
                WHERE a.rolname IN ('anon', 'authenticated', 'service_role')
                  AND pg_catalog.pg_has_role(r.oid, a.oid, 'USAGE'))
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
                    WHERE c.oid = pg_catalog.to_regclass('public.users')
                      AND pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE'))
 ORDER BY 1
