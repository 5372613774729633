-- quota init: whether public.clip_limits (the per-tier limits quota's V3
-- keeps as data) is there with its columns and types and may be read by
-- this role, so reading it cannot fail the read-only transaction. By oid,
-- never by name resolution, which could itself be refused.
SELECT EXISTS (
  SELECT 1
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public'
     AND c.relname = 'clip_limits'
     AND c.relkind IN ('r', 'p')
     AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
     AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                  WHERE a.attrelid = c.oid AND a.attname = 'tier' AND NOT a.attisdropped
                    AND a.atttypid IN ('text'::pg_catalog.regtype, 'varchar'::pg_catalog.regtype))
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                  WHERE a.attrelid = c.oid AND a.attname = 'monthly_limit' AND NOT a.attisdropped
                    AND a.atttypid IN ('int2'::pg_catalog.regtype, 'int4'::pg_catalog.regtype,
                                       'int8'::pg_catalog.regtype))
)
