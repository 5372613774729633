-- Only when V1's period column exists: the counter belongs to this UTC month.
UPDATE public.users
   SET usage_period_start = (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date
 WHERE id = $1
