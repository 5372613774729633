-- The columns of the schema contract's tables as they exist, with their
-- types ("integer", "text", "uuid"), and whether the role quota runs as may
-- read the table. From pg_catalog, not information_schema: the latter hides
-- the columns of tables the role has no privilege on, which would make a
-- missing GRANT look like a missing table.
SELECT c.relname::text AS table_name,
       a.attname::text AS column_name,
       pg_catalog.format_type(a.atttypid, NULL) AS data_type,
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable
  FROM pg_catalog.pg_class AS c
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid
 WHERE n.nspname = 'public'
   AND c.relname = ANY ($1)
   AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY c.relname, a.attnum
