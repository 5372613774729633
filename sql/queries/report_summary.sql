-- Counts per tier; $1 is the near-limit share (free tier only, as above).
SELECT tier,
       clip_limit,
       count(*) AS users,
       count(*) FILTER (WHERE scrapes >= scrape_limit) AS at_scrape_limit,
       count(*) FILTER (WHERE clips >= clip_limit) AS at_clip_limit,
       count(*) FILTER (WHERE limit_tier = 'free' AND clips < clip_limit
                          AND clips >= $1::float8::numeric * clip_limit) AS near_clip_limit
  FROM usage
 GROUP BY tier, clip_limit
 ORDER BY tier NULLS LAST, clip_limit
