-- Counts per tier; $1 is the near-limit share (free tier only, as above).
-- A NULL limit counts as reached (fail closed), as in report_at_limit.sql.
SELECT tier,
       clip_limit,
       count(*) AS users,
       count(*) FILTER (WHERE scrape_limit IS NULL OR scrapes >= scrape_limit) AS at_scrape_limit,
       count(*) FILTER (WHERE clip_limit IS NULL OR clips >= clip_limit) AS at_clip_limit,
       count(*) FILTER (WHERE limit_tier = 'free' AND clips < clip_limit
                          AND clips >= $1::float8::numeric * clip_limit) AS near_clip_limit
  FROM usage
 GROUP BY tier, clip_limit
 ORDER BY tier NULLS LAST, clip_limit
