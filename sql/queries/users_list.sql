-- A valid user to test with: $1 = only users under their scrape
-- limit this month, $2 = how many. A counter whose period is an earlier
-- month counts as 0 (the column is read through to_jsonb so the query also
-- works before V1 adds it); a NULL or negative limit admits nothing. Users
-- are named by id only: no e-mail or other personal data in output.
WITH month AS (
  SELECT (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date AS start
), u AS (
  SELECT x.id, x.plan, x.plan_limits_scrapes,
         CASE WHEN (pg_catalog.to_jsonb(x) ->> 'usage_period_start')::date < month.start THEN 0
              ELSE COALESCE(x.usage_this_month, 0) END AS usage
    FROM public.users AS x, month
)
SELECT u.id::text AS user_id, u.plan, u.usage AS usage_this_month, u.plan_limits_scrapes
  FROM u
 WHERE NOT $1 OR u.usage < u.plan_limits_scrapes
 ORDER BY u.id
 LIMIT $2
