-- Who may insert a clip, and for whom. The clip trigger charges
-- NEW.user_id, so a role in $1 that may insert a row into public.clips with
-- any user_id spends that user's quota. Per role: whether it may insert
-- user_id (a table or column grant, its own, PUBLIC's or a membership's),
-- what takes row level security out of its way, and the INSERT (or ALL)
-- policies that apply to it, permissive and restrictive, each with the
-- expression a new row is checked against (WITH CHECK, else USING).
SELECT ro.rolname::text AS role,
       pg_catalog.has_column_privilege(ro.oid, c.oid, 'user_id', 'INSERT') AS privileged,
       CASE WHEN NOT c.relrowsecurity THEN 'row level security is disabled on public.clips'
            WHEN ro.rolbypassrls THEN 'the role has BYPASSRLS'
            WHEN NOT c.relforcerowsecurity AND pg_catalog.pg_has_role(ro.oid, c.relowner, 'USAGE')
              THEN 'the role owns public.clips'
       END AS rls_bypass,
       ARRAY(SELECT p.polname::text
               FROM pg_catalog.pg_policy AS p
              WHERE p.polrelid = c.oid AND p.polpermissive AND p.polcmd IN ('a', '*')
                AND EXISTS (SELECT 1 FROM unnest(p.polroles) AS pr
                             WHERE pr = 0 OR pg_catalog.pg_has_role(ro.oid, pr, 'MEMBER'))
              ORDER BY p.polname) AS permissive,
       ARRAY(SELECT COALESCE(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
                             pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'true')
               FROM pg_catalog.pg_policy AS p
              WHERE p.polrelid = c.oid AND p.polpermissive AND p.polcmd IN ('a', '*')
                AND EXISTS (SELECT 1 FROM unnest(p.polroles) AS pr
                             WHERE pr = 0 OR pg_catalog.pg_has_role(ro.oid, pr, 'MEMBER'))
              ORDER BY p.polname) AS permissive_checks,
       ARRAY(SELECT COALESCE(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
                             pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'true')
               FROM pg_catalog.pg_policy AS p
              WHERE p.polrelid = c.oid AND NOT p.polpermissive AND p.polcmd IN ('a', '*')
                AND EXISTS (SELECT 1 FROM unnest(p.polroles) AS pr
                             WHERE pr = 0 OR pg_catalog.pg_has_role(ro.oid, pr, 'MEMBER'))
              ORDER BY p.polname) AS restrictive_checks,
       -- The roles whose own INSERT grant (table or user_id column) this
       -- role uses, and whether PUBLIC holds one: the ones a REVOKE names.
       ARRAY(SELECT DISTINCT pg_catalog.pg_get_userbyid(g.grantee)::text
               FROM (SELECT acl.grantee, acl.privilege_type
                       FROM pg_catalog.aclexplode(c.relacl) AS acl
                     UNION ALL
                     SELECT acl.grantee, acl.privilege_type
                       FROM pg_catalog.pg_attribute AS a
                      CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) AS acl
                      WHERE a.attrelid = c.oid AND a.attname = 'user_id') AS g
              WHERE g.grantee <> 0 AND g.privilege_type = 'INSERT'
                AND pg_catalog.pg_has_role(ro.oid, g.grantee, 'USAGE')
              ORDER BY 1) AS grantees,
       EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) AS acl
                WHERE acl.grantee = 0 AND acl.privilege_type = 'INSERT')
         OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                     CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) AS acl
                     WHERE a.attrelid = c.oid AND a.attname = 'user_id'
                       AND acl.grantee = 0 AND acl.privilege_type = 'INSERT') AS public_holds
  FROM pg_catalog.pg_class AS c
 CROSS JOIN pg_catalog.pg_roles AS ro
 WHERE c.oid = pg_catalog.to_regclass('public.clips')
   AND ro.rolname = ANY ($1)
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)
 ORDER BY ro.rolname NOT IN ('anon', 'authenticated'), ro.rolname
