-- Functions with the names a quota.toml gives its rpc meters ($1 schemas and
-- $2 names, pairwise), whatever their arguments: quota never replaces a
-- function it did not install.
SELECT n.nspname::text AS function_schema, p.proname::text AS function_name
  FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS t(function_schema, function_name)
  JOIN pg_catalog.pg_namespace AS n ON n.nspname = t.function_schema
  JOIN pg_catalog.pg_proc AS p ON p.pronamespace = n.oid AND p.proname = t.function_name
