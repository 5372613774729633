UPDATE public.user_usage SET clips_this_month = $2 WHERE user_id = $1
