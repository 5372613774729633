-- After view_closure.sql: the views over the tables in $2, at any depth,
-- that run with their owner's rights (not security_invoker) and that a role
-- in $1 may write through: the view is updatable for a command in $3
-- (pg_relation_is_updatable's bits: 4 UPDATE, 8 INSERT, 16 DELETE;
-- automatically, or by an INSTEAD trigger or rule) and the role holds that
-- privilege on it. Row level security and grants below the view are then
-- checked against the view's owner, not the caller. A view over such a
-- view is listed in its own right: its owner's rights reach the one below.
SELECT pg_catalog.format('%I.%I', n.nspname, v.relname) AS view,
       pg_catalog.pg_get_userbyid(v.relowner)::text AS owner,
       ARRAY(SELECT DISTINCT pg_catalog.format('%I.%I', bn.nspname, bc.relname)
               FROM reached AS r
               JOIN pg_catalog.pg_class AS bc ON bc.oid = r.base
               JOIN pg_catalog.pg_namespace AS bn ON bn.oid = bc.relnamespace
              WHERE r.view = v.oid
              ORDER BY 1) AS bases,
       ARRAY(SELECT ro.rolname::text
               FROM pg_catalog.pg_roles AS ro
              WHERE ro.rolname = ANY ($1)
                AND (($3 & 4 <> 0 AND pg_catalog.has_table_privilege(ro.oid, v.oid, 'UPDATE'))
                     OR ($3 & 8 <> 0 AND pg_catalog.has_table_privilege(ro.oid, v.oid, 'INSERT'))
                     OR ($3 & 16 <> 0 AND pg_catalog.has_table_privilege(ro.oid, v.oid, 'DELETE')))
              ORDER BY ro.rolname NOT IN ('anon', 'authenticated'), ro.rolname) AS roles
  FROM pg_catalog.pg_class AS v
  JOIN pg_catalog.pg_namespace AS n ON n.oid = v.relnamespace
 WHERE v.oid IN (SELECT r.view FROM reached AS r)
   AND v.relkind = 'v'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT COALESCE((SELECT pg_catalog.lower(split_part(o, '=', 2)) IN ('true', 'on', '1', 'yes')
                       FROM unnest(v.reloptions) AS o
                      WHERE split_part(o, '=', 1) = 'security_invoker'), false)
   AND pg_catalog.pg_relation_is_updatable(v.oid, true) & $3 <> 0
 ORDER BY 1
