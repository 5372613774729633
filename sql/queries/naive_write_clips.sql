-- The application-side increment of code without enforcement: write back
-- what was read plus one, creating the row if missing. No clip is inserted
-- (the installed trigger would enforce the limit and hide the race).
INSERT INTO public.user_usage (user_id, clips_this_month) VALUES ($1, $2)
ON CONFLICT (user_id) DO UPDATE SET clips_this_month = EXCLUDED.clips_this_month
