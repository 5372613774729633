SELECT pg_catalog.to_regclass('public.clip_limits') IS NOT NULL
