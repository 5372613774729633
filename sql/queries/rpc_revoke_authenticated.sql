-- Keeps a server-side-only setup as it was after `migrate apply --repair`
-- re-ran V2 and V4 (which grant EXECUTE to authenticated): see
-- rpc_server_side_only.sql.
REVOKE EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) FROM authenticated
