-- quota init: single-column keys of the application's tables: primary keys
-- and unique indexes (non-partial, no expressions), and foreign keys with
-- the column they reference (which may be in a schema left out by $1, such
-- as auth.users). Catalog only. $1: schemas that are not the application's.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       a.attname::text AS column_name,
       CASE WHEN i.indisprimary THEN 'primary' ELSE 'unique' END AS kind,
       NULL::text AS ref_schema,
       NULL::text AS ref_table,
       NULL::text AS ref_column
  FROM pg_catalog.pg_index AS i
  JOIN pg_catalog.pg_class AS c ON c.oid = i.indrelid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
 WHERE i.indisunique
   AND i.indnkeyatts = 1
   AND i.indpred IS NULL
   AND i.indexprs IS NULL
   AND n.nspname <> ALL ($1::text[])
   AND n.nspname NOT LIKE 'pg\_%'
UNION ALL
SELECT n.nspname::text, c.relname::text, a.attname::text, 'foreign',
       rn.nspname::text, rc.relname::text, ra.attname::text
  FROM pg_catalog.pg_constraint AS con
  JOIN pg_catalog.pg_class AS c ON c.oid = con.conrelid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = con.conkey[1]
  JOIN pg_catalog.pg_class AS rc ON rc.oid = con.confrelid
  JOIN pg_catalog.pg_namespace AS rn ON rn.oid = rc.relnamespace
  JOIN pg_catalog.pg_attribute AS ra ON ra.attrelid = rc.oid AND ra.attnum = con.confkey[1]
 WHERE con.contype = 'f'
   AND pg_catalog.cardinality(con.conkey) = 1
   AND n.nspname <> ALL ($1::text[])
   AND n.nspname NOT LIKE 'pg\_%'
 ORDER BY 1, 2, 3, 4
