-- Near the clip limit (an upgrade opportunity): free-tier users at or above
-- $1 (a share, e.g. 0.9) of their clip limit but not at it. The share goes
-- through numeric so 0.9 * 50 is exactly 45.
SELECT id::text AS user_id, tier, clips AS used, clip_limit AS "limit"
  FROM usage
 WHERE limit_tier = 'free'
   AND clips < clip_limit
   AND clips >= $1::float8::numeric * clip_limit
 ORDER BY clips DESC, id
