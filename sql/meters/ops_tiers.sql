-- (after ops_subjects.sql) Per tier and limit: the subjects on it this
-- period, how many at the limit, at or above $1 (a share) of it, their
-- usage summed; tiers of quota.meter_limits nobody is on with 0 subjects.
SELECT {meter_literal} AS meter,
       tier,
       lim AS "limit",
       own_limit,
       count(*)::pg_catalog.int8 AS subjects,
       (count(*) FILTER (WHERE lim IS NULL OR used >= lim))::pg_catalog.int8 AS at_limit,
       (count(*) FILTER (WHERE used < lim
                           AND used >= $1::pg_catalog.float8::pg_catalog.numeric * lim))::pg_catalog.int8 AS near_limit,
       COALESCE(sum(used), 0)::pg_catalog.int8 AS usage
  FROM per_subject
 GROUP BY tier, lim, own_limit
UNION ALL
SELECT {meter_literal}, l.tier, l."limit"::pg_catalog.int8, true, 0, 0, 0, 0
  FROM quota.meter_limits AS l
 WHERE l.meter = {meter_literal}
   AND NOT EXISTS (SELECT 1 FROM per_subject AS p WHERE p.tier = l.tier)
 ORDER BY tier NULLS LAST, "limit"
