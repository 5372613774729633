-- Per meter and tier (appended to report_base.sql): the limit, whether the
-- tier has a limit of its own, and the subjects on it this month — how
-- many, at the limit, at or above $1 (a share) of it, their usage summed.
-- scrapes: the limit is users.plan_limits_scrapes, one per user, so a tier
-- gets one row per distinct limit; a NULL limit admits nothing (not its own).
-- clips: the tier's row in public.clip_limits, else the free row (not its
-- own); tiers of clip_limits nobody is on are listed with 0 subjects.
, per_subject AS (
  SELECT 'scrapes' AS meter, tier, scrape_limit AS lim, scrape_limit IS NOT NULL AS own_limit,
         scrapes AS used
    FROM usage
  UNION ALL
  SELECT 'clips', tier, clip_limit, own_clip_limit, clips
    FROM usage
)
SELECT meter,
       tier,
       lim::int8 AS "limit",
       own_limit,
       count(*)::int8 AS subjects,
       (count(*) FILTER (WHERE lim IS NULL OR used >= lim))::int8 AS at_limit,
       (count(*) FILTER (WHERE used < lim AND used >= $1::float8::numeric * lim))::int8 AS near_limit,
       COALESCE(sum(used), 0)::int8 AS usage
  FROM per_subject
 GROUP BY meter, tier, lim, own_limit
UNION ALL
SELECT 'clips', cl.tier, cl.monthly_limit::int8, true, 0, 0, 0, 0
  FROM public.clip_limits AS cl
 WHERE NOT EXISTS (SELECT 1 FROM public.users AS u WHERE u.subscription_tier = cl.tier)
 ORDER BY meter DESC, tier NULLS LAST, "limit"
