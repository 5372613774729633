DELETE FROM public.user_usage WHERE user_id = ANY ($1)
