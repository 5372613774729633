-- Whether the RPC is installed, the role authenticated exists, and it may
-- NOT execute the RPC (by any route): a server-side-only setup, where the
-- backend calls the RPC through service_role and EXECUTE was revoked from
-- authenticated on purpose. `migrate apply --repair` re-runs V2 and V4,
-- which grant it, and then takes that grant back (rpc_revoke_authenticated.sql).
SELECT COALESCE((SELECT NOT pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE')
                   FROM pg_catalog.pg_roles AS r
                  CROSS JOIN (SELECT pg_catalog.to_regprocedure('public.increment_usage_if_allowed(uuid)') AS oid) AS p
                  WHERE r.rolname = 'authenticated'
                    AND p.oid IS NOT NULL), false)
