-- Who among the API roles in $1 (anon, authenticated, roles inheriting
-- them; PUBLIC reaches them all) may run `LOCK TABLE ... IN ACCESS
-- EXCLUSIVE MODE` on a table quota's function and trigger write or read.
-- PostgreSQL allows that mode to any role holding UPDATE, DELETE or
-- TRUNCATE on the TABLE (PostgreSQL 17+: also MAINTAIN); column-level
-- grants do not count, and row level security does not apply. Held in an
-- open transaction, the lock stalls every user's RPC call and clip insert.
-- privileges: the lock-capable privileges some role in $1 holds;
-- public_holds: PUBLIC itself holds one (the REVOKE must name PUBLIC);
-- grantees: the roles whose own grant a role in $1 uses (the REVOKE names
-- them); update_grantees: those holding table-level UPDATE (a column-level
-- UPDATE on the safe columns replaces it, so profile edits keep working).
WITH rels (rel) AS (
  VALUES ('public.users'), ('public.user_usage'), ('public.clip_limits')
), privs (privilege) AS (
  SELECT unnest(CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 170000
                     THEN ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'MAINTAIN']
                     ELSE ARRAY['UPDATE', 'DELETE', 'TRUNCATE'] END)
)
SELECT r.rel,
       ARRAY(SELECT ro.rolname::text
               FROM pg_catalog.pg_roles AS ro
              WHERE ro.rolname = ANY ($1)
                AND EXISTS (SELECT 1 FROM privs AS p
                             WHERE pg_catalog.has_table_privilege(ro.oid, c.oid, p.privilege))
              ORDER BY ro.rolname NOT IN ('anon', 'authenticated'), ro.rolname) AS roles,
       ARRAY(SELECT p.privilege
               FROM privs AS p
              WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS ro
                             WHERE ro.rolname = ANY ($1)
                               AND pg_catalog.has_table_privilege(ro.oid, c.oid, p.privilege))) AS privileges,
       EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) AS acl
                WHERE acl.grantee = 0
                  AND acl.privilege_type IN (SELECT p.privilege FROM privs AS p)) AS public_holds,
       ARRAY(SELECT DISTINCT pg_catalog.pg_get_userbyid(acl.grantee)::text
               FROM pg_catalog.aclexplode(c.relacl) AS acl
              WHERE acl.grantee <> 0
                AND acl.privilege_type IN (SELECT p.privilege FROM privs AS p)
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS ro
                             WHERE ro.rolname = ANY ($1)
                               AND pg_catalog.pg_has_role(ro.oid, acl.grantee, 'USAGE'))
              ORDER BY 1) AS grantees,
       ARRAY(SELECT DISTINCT pg_catalog.pg_get_userbyid(acl.grantee)::text
               FROM pg_catalog.aclexplode(c.relacl) AS acl
              WHERE acl.grantee <> 0
                AND acl.privilege_type = 'UPDATE'
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS ro
                             WHERE ro.rolname = ANY ($1)
                               AND pg_catalog.pg_has_role(ro.oid, acl.grantee, 'USAGE'))
              ORDER BY 1) AS update_grantees
  FROM rels AS r
  JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(r.rel)
 ORDER BY r.rel
