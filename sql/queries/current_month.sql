-- The current period as the function and trigger count it: the first day
-- of this month in UTC (a counter of an earlier period counts as 0).
SELECT (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::date::text
