-- Removes the clip counter row a race created for a user who had none, once
-- the race's clips are taken back and nothing else is counted on it.
DELETE FROM public.user_usage WHERE user_id = $1 AND clips_this_month = 0
