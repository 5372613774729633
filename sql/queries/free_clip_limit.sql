-- The free tier's clip limit (an unknown tier gets it too).
SELECT monthly_limit FROM public.clip_limits WHERE tier = 'free'
