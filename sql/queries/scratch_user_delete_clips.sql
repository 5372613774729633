DELETE FROM public.clips WHERE user_id = ANY ($1)
