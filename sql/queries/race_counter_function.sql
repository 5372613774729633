-- The user's scrape counter as the RPC sees it (0 in a new UTC month) and
-- their limit; no row means no such user.
SELECT CASE WHEN u.usage_period_start < (date_trunc('month', now() AT TIME ZONE 'UTC'))::date
            THEN 0 ELSE COALESCE(u.usage_this_month, 0) END AS counter,
       u.plan_limits_scrapes AS limit
  FROM public.users AS u
 WHERE u.id = $1
