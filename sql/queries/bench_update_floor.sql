-- The floor for the RPC: the bare single-statement check-and-increment,
-- same table, same index, one round trip.
UPDATE public.users
   SET usage_this_month = usage_this_month + 1
 WHERE id = $1 AND usage_this_month < plan_limits_scrapes
RETURNING usage_this_month
