-- `quota limits set TIER N --meter scrapes`: the scrape limit is a column
-- of each user row (users.plan_limits_scrapes), so setting a tier's limit
-- sets it on every user of the tier; the rows are locked as the function
-- locks them. Returns one row per user changed, with the limit it had.
WITH old AS (
  SELECT u.id, u.plan_limits_scrapes AS before
    FROM public.users AS u
   WHERE u.subscription_tier = $1
     FOR UPDATE
), changed AS (
  UPDATE public.users AS u
     SET plan_limits_scrapes = $2
    FROM old
   WHERE u.id = old.id
     AND u.plan_limits_scrapes IS DISTINCT FROM $2
  RETURNING old.before
)
SELECT (SELECT count(*) FROM old)::int8 AS subjects,
       (SELECT count(*) FROM changed)::int8 AS changed,
       (SELECT pg_catalog.array_agg(DISTINCT before ORDER BY before) FROM old) AS before
