-- Whether public.user_usage.user_id alone is covered by a unique index
-- (the clip trigger's ON CONFLICT (user_id) needs one).
SELECT EXISTS (
  SELECT 1
    FROM pg_catalog.pg_index AS i
    JOIN pg_catalog.pg_attribute AS a
      ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
   WHERE i.indrelid = to_regclass('public.user_usage')
     AND i.indisunique
     AND i.indnkeyatts = 1
     AND i.indpred IS NULL
     AND a.attname = 'user_id'
) AS user_id_unique
