-- Every user's counters this month beside their limits: the base of the
-- report queries, which append their own SELECT. A counter whose period is
-- an earlier UTC month counts as 0 (the function and trigger reset it on
-- first use); the clip limit is the tier's row in public.clip_limits, or the
-- free row for an unknown tier, exactly as the trigger computes it.
WITH month AS (
  SELECT (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date AS start
), usage AS (
  SELECT x.id,
         x.subscription_tier AS tier,
         COALESCE(cl.tier, 'free') AS limit_tier,
         CASE WHEN x.usage_period_start < month.start THEN 0
              ELSE COALESCE(x.usage_this_month, 0) END AS scrapes,
         x.plan_limits_scrapes AS scrape_limit,
         CASE WHEN uu.clips_period_start < month.start THEN 0
              ELSE COALESCE(uu.clips_this_month, 0) END AS clips,
         COALESCE(cl.monthly_limit, free.monthly_limit) AS clip_limit,
         cl.tier IS NOT NULL AS own_clip_limit
    FROM public.users AS x
   CROSS JOIN month
    LEFT JOIN public.user_usage AS uu ON uu.user_id = x.id
    LEFT JOIN public.clip_limits AS cl ON cl.tier = x.subscription_tier
    LEFT JOIN public.clip_limits AS free ON free.tier = 'free'
)
