-- Rows of public.clip_limits that differ from what V3 seeded (free = 50,
-- pro = 1000): tiers added and limits changed since install. Reverting V3
-- drops the table, so these are what a rollback discards.
SELECT cl.tier, cl.monthly_limit, d.monthly_limit AS seeded
  FROM public.clip_limits AS cl
  LEFT JOIN (VALUES ('free', 50), ('pro', 1000)) AS d (tier, monthly_limit) ON d.tier = cl.tier
 WHERE d.monthly_limit IS DISTINCT FROM cl.monthly_limit
 ORDER BY cl.tier
