-- The role quota runs as and the owner of public.users, for "permission
-- denied" hints (migrations alter the application's tables; only owners may).
SELECT current_user::text AS me,
       (SELECT pg_catalog.pg_get_userbyid(c.relowner)::text
          FROM pg_catalog.pg_class AS c
         WHERE c.oid = to_regclass('public.users')) AS owner
