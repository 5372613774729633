-- The scratch user's clip counter row.
INSERT INTO public.user_usage (user_id, clips_this_month) VALUES ($1, $2)
