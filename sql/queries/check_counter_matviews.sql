-- After view_closure.sql: materialized views over the tables in $2 (at any
-- depth) that a role in $1 may read. A materialized view has no row level
-- security: whoever may SELECT it reads every user's row.
SELECT pg_catalog.format('%I.%I', n.nspname, v.relname) AS view,
       ARRAY(SELECT DISTINCT pg_catalog.format('%I.%I', bn.nspname, bc.relname)
               FROM reached AS r
               JOIN pg_catalog.pg_class AS bc ON bc.oid = r.base
               JOIN pg_catalog.pg_namespace AS bn ON bn.oid = bc.relnamespace
              WHERE r.view = v.oid
              ORDER BY 1) AS bases,
       ARRAY(SELECT ro.rolname::text
               FROM pg_catalog.pg_roles AS ro
              WHERE ro.rolname = ANY ($1)
                AND pg_catalog.has_table_privilege(ro.oid, v.oid, 'SELECT')
              ORDER BY ro.rolname NOT IN ('anon', 'authenticated'), ro.rolname) AS roles,
       EXISTS (SELECT 1 FROM pg_catalog.aclexplode(v.relacl) AS acl
                WHERE acl.grantee = 0 AND acl.privilege_type = 'SELECT') AS public_holds,
       ARRAY(SELECT DISTINCT pg_catalog.pg_get_userbyid(acl.grantee)::text
               FROM pg_catalog.aclexplode(v.relacl) AS acl
              WHERE acl.grantee <> 0 AND acl.privilege_type = 'SELECT'
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS ro
                             WHERE ro.rolname = ANY ($1)
                               AND pg_catalog.pg_has_role(ro.oid, acl.grantee, 'USAGE'))
              ORDER BY 1) AS grantees
  FROM pg_catalog.pg_class AS v
  JOIN pg_catalog.pg_namespace AS n ON n.oid = v.relnamespace
 WHERE v.oid IN (SELECT r.view FROM reached AS r)
   AND v.relkind = 'm'
 ORDER BY 1
