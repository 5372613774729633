-- A user's clip counter row as jsonb (none before their first clip).
SELECT pg_catalog.to_jsonb(uu) FROM public.user_usage AS uu WHERE uu.user_id = $1
