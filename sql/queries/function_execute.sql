-- Whether each role ($2, names) may execute a function (by signature, $1);
-- roles that do not exist are left out.
SELECT r.rolname::text, pg_catalog.has_function_privilege(r.oid, pg_catalog.to_regprocedure($1), 'EXECUTE')
  FROM pg_catalog.pg_roles AS r
 WHERE r.rolname = ANY ($2::text[])
 ORDER BY r.rolname
