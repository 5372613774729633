-- Only when V1's period column exists: the counter belongs to this UTC month.
UPDATE public.user_usage
   SET clips_period_start = (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date
 WHERE user_id = $1
