-- Near a limit (an upgrade opportunity), every meter and every tier: users
-- at or above $1 (a share, e.g. 0.9) of their limit but not at it. The
-- share goes through numeric so 0.9 * 50 is exactly 45. A NULL limit
-- admits nothing: such a user is at the limit (report_at_limit.sql), not near it.
SELECT 'scrapes' AS meter, id::text AS user_id, tier, scrapes AS used, scrape_limit AS "limit"
  FROM usage
 WHERE scrapes < scrape_limit
   AND scrapes >= $1::float8::numeric * scrape_limit
UNION ALL
SELECT 'clips', id::text, tier, clips, clip_limit
  FROM usage
 WHERE clips < clip_limit
   AND clips >= $1::float8::numeric * clip_limit
 ORDER BY meter DESC, used DESC, user_id
