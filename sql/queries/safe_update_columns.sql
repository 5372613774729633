-- The one rule for which columns of table $1 (schema-qualified name) a
-- hint or migration V6 may grant UPDATE on to an API role, so profile
-- edits keep working without reopening a hole. Never:
--  * a column quota reads or writes: the counters, limits, tier, plan,
--    subscription_status and period markers, the keys users.id and
--    user_usage.user_id, and every column of clip_limits (a user would
--    raise their own quota, or move their exhausted counter row onto
--    another user);
--  * a column of the primary key or of any unique index or constraint (a
--    user could take over another's key, or claim another's UNIQUE value
--    such as stripe_customer_id), including columns a unique expression
--    index uses;
--  * a generated or GENERATED ALWAYS identity column (not writable).
-- V6 runs this same text as the body of a SQL function; a unit test in
-- migrate::embedded holds the two together.
SELECT a.attname::pg_catalog.text
  FROM pg_catalog.pg_attribute AS a
 WHERE a.attrelid = pg_catalog.to_regclass($1)
   AND a.attnum > 0
   AND NOT a.attisdropped
   AND a.attgenerated = ''
   AND a.attidentity <> 'a'
   AND a.attrelid IS DISTINCT FROM pg_catalog.to_regclass('public.clip_limits')
   AND NOT (a.attrelid = pg_catalog.to_regclass('public.users')
            AND a.attname IN ('id', 'usage_this_month', 'plan_limits_scrapes', 'usage_period_start',
                              'subscription_tier', 'plan', 'subscription_status'))
   AND NOT (a.attrelid = pg_catalog.to_regclass('public.user_usage')
            AND a.attname IN ('user_id', 'clips_this_month', 'clips_period_start'))
   AND NOT EXISTS (SELECT 1
                     FROM pg_catalog.pg_index AS i
                    WHERE i.indrelid = a.attrelid
                      AND i.indisunique
                      AND (a.attnum = ANY (i.indkey::pg_catalog.int2[])
                           OR EXISTS (SELECT 1
                                        FROM pg_catalog.pg_depend AS d
                                       WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                         AND d.objid = i.indexrelid
                                         AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                         AND d.refobjid = a.attrelid
                                         AND d.refobjsubid = a.attnum)))
 ORDER BY a.attnum
