-- Views over the counter and limit tables that run with their owner's
-- rights (not security_invoker) and that a role in $1 may write through:
-- the view is updatable (automatically, or by an INSTEAD trigger or rule)
-- and the role holds INSERT, UPDATE or DELETE on it. Row level security of
-- the base table is then checked against the view's owner, not the caller.
SELECT pg_catalog.format('%I.%I', n.nspname, v.relname) AS view,
       pg_catalog.pg_get_userbyid(v.relowner)::text AS owner,
       ARRAY(SELECT DISTINCT pg_catalog.format('%I.%I', bn.nspname, bc.relname)
               FROM pg_catalog.pg_rewrite AS rw
               JOIN pg_catalog.pg_depend AS d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = rw.oid
               JOIN pg_catalog.pg_class AS bc ON bc.oid = d.refobjid
               JOIN pg_catalog.pg_namespace AS bn ON bn.oid = bc.relnamespace
              WHERE rw.ev_class = v.oid
                AND d.refobjid IN (SELECT pg_catalog.to_regclass(t)
                                     FROM unnest(ARRAY['public.users', 'public.user_usage', 'public.clip_limits']) AS t)
              ORDER BY 1) AS bases,
       ARRAY(SELECT ro.rolname::text
               FROM pg_catalog.pg_roles AS ro
              WHERE ro.rolname = ANY ($1)
                AND (pg_catalog.has_table_privilege(ro.oid, v.oid, 'UPDATE')
                     OR pg_catalog.has_table_privilege(ro.oid, v.oid, 'INSERT')
                     OR pg_catalog.has_table_privilege(ro.oid, v.oid, 'DELETE'))
              ORDER BY ro.rolname NOT IN ('anon', 'authenticated'), ro.rolname) AS roles
  FROM pg_catalog.pg_class AS v
  JOIN pg_catalog.pg_namespace AS n ON n.oid = v.relnamespace
 WHERE v.relkind = 'v'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT COALESCE((SELECT pg_catalog.lower(split_part(o, '=', 2)) IN ('true', 'on', '1', 'yes')
                       FROM unnest(v.reloptions) AS o
                      WHERE split_part(o, '=', 1) = 'security_invoker'), false)
   AND pg_catalog.pg_relation_is_updatable(v.oid, true) & 28 <> 0
   AND EXISTS (SELECT 1
                 FROM pg_catalog.pg_rewrite AS rw
                 JOIN pg_catalog.pg_depend AS d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = rw.oid
                WHERE rw.ev_class = v.oid
                  AND d.refobjid IN (SELECT pg_catalog.to_regclass(t)
                                       FROM unnest(ARRAY['public.users', 'public.user_usage', 'public.clip_limits']) AS t))
 ORDER BY 1
