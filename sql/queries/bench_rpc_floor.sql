-- The floor for the PostgREST-shaped calls: the same transaction and the
-- same two set_config calls (the authenticated claims, the larger payload),
-- then the bare check-and-increment UPDATE. The role is switched to the
-- connecting role itself: the API roles may not write public.users
-- directly (grants, row level security), and a role switch costs the same
-- whichever role it names. So the ratio isolates the function.
BEGIN;
SELECT pg_catalog.set_config('role', current_user, true),
       pg_catalog.set_config('request.jwt.claims', $1, true);
UPDATE public.users
   SET usage_this_month = usage_this_month + 1
 WHERE id = $2 AND usage_this_month < plan_limits_scrapes
RETURNING usage_this_month;
COMMIT;
