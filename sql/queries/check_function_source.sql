-- What is installed for a function ($1 = its oid): the body as stored, and
-- how it runs; compared with the embedded migrations by the drift check.
SELECT p.prosrc,
       p.prosecdef,
       COALESCE(p.proconfig, '{}'::text[]) AS proconfig
  FROM pg_catalog.pg_proc AS p
 WHERE p.oid = $1
