-- The objects quota's migrations create (with the version that creates
-- them) that exist now: a column or table that is there before its version
-- is recorded belongs to the application, and quota must not adopt it (its
-- revert would drop it).
SELECT o.version, n.object
  FROM (VALUES (1, 'public.users', 'usage_period_start'),
               (1, 'public.user_usage', 'clips_period_start'),
               (3, 'public.clip_limits', NULL)) AS o (version, rel, col)
  CROSS JOIN LATERAL (SELECT CASE WHEN o.col IS NULL THEN o.rel ELSE o.rel || '.' || o.col END AS object) AS n
  JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(o.rel)
 WHERE o.col IS NULL
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid = c.oid AND a.attname = o.col AND a.attnum > 0 AND NOT a.attisdropped)
 ORDER BY o.version, n.object
