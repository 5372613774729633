-- The free tier's monthly clip limit: the trigger's fallback for every
-- unknown tier. No row when it is missing.
SELECT monthly_limit FROM public.clip_limits WHERE tier = 'free'
