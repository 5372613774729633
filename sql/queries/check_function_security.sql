-- How a function runs ($1 = its oid): SECURITY DEFINER or not, its pinned
-- settings (proconfig, e.g. {search_path=""}), and its owner.
SELECT p.prosecdef,
       COALESCE(p.proconfig, '{}'::text[]) AS proconfig,
       pg_catalog.pg_get_userbyid(p.proowner)::text AS owner
  FROM pg_catalog.pg_proc AS p
 WHERE p.oid = $1
