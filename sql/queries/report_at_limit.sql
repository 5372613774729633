-- The clip guide's "users at limit", per counter.
SELECT id::text AS user_id, email, tier, 'clips' AS counter, clips AS used, clip_limit AS "limit"
  FROM usage
 WHERE clips >= clip_limit
UNION ALL
SELECT id::text, email, tier, 'scrapes', scrapes, scrape_limit
  FROM usage
 WHERE scrapes >= scrape_limit
 ORDER BY counter, email, user_id
