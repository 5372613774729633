-- One user as the debug view shows it, as JSON rows so it works with or
-- without the period columns (before or after V1), and the current UTC month.
SELECT pg_catalog.to_jsonb(u) AS user_row,
       (SELECT pg_catalog.to_jsonb(uu) FROM public.user_usage AS uu WHERE uu.user_id = u.id) AS usage_row,
       (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date::text AS month
  FROM public.users AS u
 WHERE u.id = $1
