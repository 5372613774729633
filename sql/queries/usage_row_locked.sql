-- A user's clip counter row, locked for a reset.
SELECT pg_catalog.to_jsonb(uu) FROM public.user_usage AS uu WHERE uu.user_id = $1 FOR UPDATE
