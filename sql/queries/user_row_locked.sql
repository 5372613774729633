-- A user's row, locked for a reset so before/after are exact.
SELECT pg_catalog.to_jsonb(u) FROM public.users AS u WHERE u.id = $1 FOR UPDATE
