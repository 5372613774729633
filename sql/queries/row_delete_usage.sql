-- Removes a user_usage row the race created (the user had none before).
DELETE FROM public.user_usage WHERE user_id = $1
