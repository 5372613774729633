DELETE FROM public.users WHERE id = ANY ($1)
