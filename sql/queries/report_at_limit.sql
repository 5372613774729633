-- The clip guide's "users at limit", per counter.
SELECT id::text AS user_id, tier, 'clips' AS counter, clips AS used, clip_limit AS "limit"
  FROM usage
 WHERE clips >= clip_limit
UNION ALL
SELECT id::text, tier, 'scrapes', scrapes, scrape_limit
  FROM usage
 WHERE scrapes >= scrape_limit
 ORDER BY counter, user_id
