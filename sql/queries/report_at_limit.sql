-- Users at a limit this month, per counter. A NULL limit counts as
-- reached: the function and the trigger fail closed and admit nothing.
-- Users are named by id only: no e-mail or other personal data in output.
SELECT 'clips' AS meter, id::text AS user_id, tier, clips AS used, clip_limit AS "limit"
  FROM usage
 WHERE clip_limit IS NULL OR clips >= clip_limit
UNION ALL
SELECT 'scrapes', id::text, tier, scrapes, scrape_limit
  FROM usage
 WHERE scrape_limit IS NULL OR scrapes >= scrape_limit
 ORDER BY meter DESC, user_id
