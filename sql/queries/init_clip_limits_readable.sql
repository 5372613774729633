-- quota init: whether public.clip_limits (the per-tier limits quota's V3
-- keeps as data) exists with its columns and may be read by this role, so
-- reading it cannot fail the read-only transaction.
SELECT CASE
         WHEN pg_catalog.to_regclass('public.clip_limits') IS NULL THEN false
         ELSE pg_catalog.has_table_privilege('public.clip_limits', 'SELECT')
              AND (SELECT pg_catalog.count(*) = 2
                     FROM pg_catalog.pg_attribute
                    WHERE attrelid = pg_catalog.to_regclass('public.clip_limits')
                      AND attname IN ('tier', 'monthly_limit')
                      AND NOT attisdropped)
       END
