-- quota init: every column of the application's tables, for guessing which
-- table is the subject and which columns are tiers, counters and limits.
-- Catalog only (no row of the application is read). $1: schemas that are
-- not the application's (system, Supabase's own, quota's). A domain is
-- reported by its base type.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       a.attname::text AS column_name,
       CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END::text AS type_name
  FROM pg_catalog.pg_class AS c
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute AS a
    ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_type AS bt ON bt.oid = t.typbasetype
 WHERE c.relkind IN ('r', 'p')
   AND NOT c.relispartition
   AND n.nspname <> ALL ($1::text[])
   AND n.nspname NOT LIKE 'pg\_%'
 ORDER BY n.nspname, c.relname, a.attnum
