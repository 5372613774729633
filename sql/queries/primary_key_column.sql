-- The single-column primary key of a table ($1, regclass text), if it has one.
SELECT a.attname::text
  FROM pg_catalog.pg_index AS i
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
 WHERE i.indrelid = pg_catalog.to_regclass($1) AND i.indisprimary AND i.indnkeyatts = 1
