-- A user_usage row for a user who has none yet, so `reset-user --to N`
-- can set the clip counter (the period column takes its default).
INSERT INTO public.user_usage (user_id, clips_this_month)
VALUES ($1, 0)
ON CONFLICT (user_id) DO NOTHING
