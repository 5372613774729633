SELECT pg_catalog.to_regclass('quota.saved_clip_limits') IS NOT NULL
