-- For each API role the PostgREST-shaped scenarios switch to: whether it
-- exists, whether this session may switch to it (SET ROLE needs
-- membership; Supabase's postgres has it, a plain login may not), and
-- whether it may execute the RPC.
SELECT n.rolname::text,
       r.oid IS NOT NULL AS present,
       COALESCE(pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'), false) AS member,
       COALESCE(pg_catalog.has_function_privilege(
                  r.oid, 'public.increment_usage_if_allowed(uuid)', 'EXECUTE'), false) AS executes
  FROM (VALUES ('service_role'), ('authenticated')) AS n (rolname)
  LEFT JOIN pg_catalog.pg_roles AS r ON r.rolname = n.rolname
 ORDER BY n.rolname
