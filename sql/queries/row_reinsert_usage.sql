-- Puts back a user_usage row that disappeared during the race.
INSERT INTO public.user_usage SELECT * FROM jsonb_populate_record(NULL::public.user_usage, $1)
