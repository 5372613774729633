-- Whether PUBLIC may execute a function (by signature, $1): its ACL, or the
-- default ACL (EXECUTE to PUBLIC) when it has none.
SELECT EXISTS (SELECT 1
                 FROM pg_catalog.pg_proc AS p,
                      pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) AS a
                WHERE p.oid = pg_catalog.to_regprocedure($1)
                  AND a.grantee = 0
                  AND a.privilege_type = 'EXECUTE')
