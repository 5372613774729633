-- Whether the guard test can run as `authenticated`: the role exists (CASE,
-- because pg_has_role raises for an absent role), this session may SET ROLE
-- to it, and it can execute the RPC ($1), so a refusal is the guard's.
SELECT CASE
         WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated')
         THEN pg_catalog.pg_has_role(current_user, 'authenticated', 'MEMBER')
              AND pg_catalog.has_function_privilege('authenticated', $1, 'EXECUTE')
         ELSE false
       END
