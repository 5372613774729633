-- The columns of the tables a quota.toml names ($1 schemas and $2 names,
-- pairwise), with what checking a mapping needs: the type as format_type
-- spells it, whether an insert must fill it (NOT NULL, no default, not
-- identity or generated), and whether it is unique on its own (a primary
-- key or a unique, non-partial index on exactly this column).
SELECT n.nspname::text AS table_schema,
       c.relname::text AS table_name,
       c.relkind::text AS relkind,
       a.attname::text AS column_name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS data_type,
       (a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '') AS required,
       EXISTS (SELECT 1
                 FROM pg_catalog.pg_index AS i
                WHERE i.indrelid = c.oid
                  AND i.indisunique
                  AND i.indpred IS NULL
                  AND i.indexprs IS NULL
                  AND i.indnkeyatts = 1
                  AND i.indkey[0] = a.attnum) AS unique_alone
  FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS t(table_schema, table_name)
  JOIN pg_catalog.pg_namespace AS n ON n.nspname = t.table_schema
  JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = t.table_name
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY 1, 2, a.attnum
