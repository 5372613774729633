-- One request as PostgREST makes it: its own transaction, the role switched
-- and the whole JWT payload set for the transaction only, then the RPC.
-- One simple-protocol message. {role} is a constant quota chooses
-- (service_role or authenticated); $1 is the claims JSON quota builds, $2
-- the scratch user.
BEGIN;
SELECT pg_catalog.set_config('role', '{role}', true),
       pg_catalog.set_config('request.jwt.claims', $1, true);
SELECT * FROM public.increment_usage_if_allowed($2);
COMMIT;
