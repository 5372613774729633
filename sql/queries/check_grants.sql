-- Who may EXECUTE the RPC ($1 = its oid): PUBLIC straight from the ACL (a
-- NULL ACL means the default, which grants EXECUTE to PUBLIC), and each
-- role in $2 that exists, with has_function_privilege (so grants through
-- PUBLIC or a role membership count).
SELECT NULL::text AS role,
       EXISTS (SELECT 1
                 FROM pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) AS a
                WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS can_execute
  FROM pg_catalog.pg_proc AS p
 WHERE p.oid = $1
UNION ALL
SELECT r.rolname::text, pg_catalog.has_function_privilege(r.oid, $1::oid, 'EXECUTE')
  FROM pg_catalog.pg_roles AS r
 WHERE r.rolname = ANY ($2)
