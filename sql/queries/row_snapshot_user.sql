-- A user's row as jsonb: what `race --user` restores afterwards.
SELECT to_jsonb(u) FROM public.users AS u WHERE u.id = $1
