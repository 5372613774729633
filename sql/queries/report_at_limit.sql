-- Users at a limit this month, per counter. A NULL limit counts as
-- reached: the function and the trigger fail closed and admit nothing.
-- Users are named by id only: no e-mail or other personal data in output.
SELECT id::text AS user_id, tier, 'clips' AS counter, clips AS used, clip_limit AS "limit"
  FROM usage
 WHERE clip_limit IS NULL OR clips >= clip_limit
UNION ALL
SELECT id::text, tier, 'scrapes', scrapes, scrape_limit
  FROM usage
 WHERE scrape_limit IS NULL OR scrapes >= scrape_limit
 ORDER BY counter, user_id
