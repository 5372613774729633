-- Who among the API roles ($1) can reach quota's migration history: the old
-- place in public (any privilege there counts: Supabase's default
-- privileges grant ALL), or the table in schema quota (USAGE on the schema
-- and any privilege on the table). One row per table found.
SELECT t.name,
       ARRAY(SELECT ro.rolname::text
               FROM pg_catalog.pg_roles AS ro
              WHERE ro.rolname = ANY ($1)
                AND (t.name = 'public.quota_schema_history'
                     OR pg_catalog.has_schema_privilege(ro.oid, 'quota', 'USAGE'))
                AND (pg_catalog.has_table_privilege(ro.oid, c.oid, 'SELECT')
                     OR pg_catalog.has_table_privilege(ro.oid, c.oid, 'INSERT')
                     OR pg_catalog.has_table_privilege(ro.oid, c.oid, 'UPDATE')
                     OR pg_catalog.has_table_privilege(ro.oid, c.oid, 'DELETE')
                     OR pg_catalog.has_table_privilege(ro.oid, c.oid, 'TRUNCATE'))
              ORDER BY ro.rolname NOT IN ('anon', 'authenticated'), ro.rolname) AS roles
  FROM (VALUES ('public.quota_schema_history'), ('quota.schema_history')) AS t (name)
  JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(t.name)
 ORDER BY t.name
