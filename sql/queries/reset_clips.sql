UPDATE public.user_usage SET clips_this_month = 0 WHERE user_id = $1
