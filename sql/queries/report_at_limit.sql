-- The clip guide's "users at limit", per counter. A NULL limit counts as
-- reached: the function and the trigger fail closed and admit nothing.
SELECT id::text AS user_id, email, tier, 'clips' AS counter, clips AS used, clip_limit AS "limit"
  FROM usage
 WHERE clip_limit IS NULL OR clips >= clip_limit
UNION ALL
SELECT id::text, email, tier, 'scrapes', scrapes, scrape_limit
  FROM usage
 WHERE scrape_limit IS NULL OR scrapes >= scrape_limit
 ORDER BY counter, email, user_id
