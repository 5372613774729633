-- Whether row level security filters public.users for the current role:
-- RLS is on and the role neither owns the table (owners are exempt unless
-- FORCE ROW LEVEL SECURITY) nor bypasses RLS. Then a user that exists can
-- look missing.
SELECT c.relrowsecurity
       AND (c.relforcerowsecurity OR NOT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE'))
       AND NOT r.rolbypassrls
       AND NOT r.rolsuper
  FROM pg_catalog.pg_class AS c, pg_catalog.pg_roles AS r
 WHERE c.oid = pg_catalog.to_regclass('public.users')
   AND r.rolname = current_user
