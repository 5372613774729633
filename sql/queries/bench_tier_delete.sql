DELETE FROM public.clip_limits WHERE tier = $1
