-- Columns of a table an INSERT must give a value for: NOT NULL, no default,
-- not generated or identity. quota fills them with placeholders for its
-- scratch rows; the type decides the placeholder.
SELECT a.attname::text AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       t.typcategory::text AS category,
       t.typtype::text AS kind,
       t.typname::text AS base
  FROM pg_catalog.pg_attribute AS a
  JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
 WHERE a.attrelid = $1::regclass
   AND a.attnum > 0
   AND NOT a.attisdropped
   AND a.attnotnull
   AND NOT a.atthasdef
   AND a.attgenerated = ''
   AND a.attidentity = ''
 ORDER BY a.attnum
