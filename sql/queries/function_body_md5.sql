-- The digest of a function's body (by signature, $1), its SECURITY DEFINER
-- flag and settings; NULL columns when it does not exist.
SELECT pg_catalog.md5(p.prosrc), p.prosecdef,
       COALESCE(pg_catalog.array_to_string(p.proconfig, ','), '')
  FROM (SELECT pg_catalog.to_regprocedure($1) AS oid) AS f
  LEFT JOIN pg_catalog.pg_proc AS p ON p.oid = f.oid
