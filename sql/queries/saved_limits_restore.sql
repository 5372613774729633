-- Run by `migrate apply` in V3's step, after V3 seeded public.clip_limits,
-- when a rollback saved the edited limits (saved_limits_save.sql): the
-- table becomes exactly what the rollback found, and the copy is dropped.
DELETE FROM public.clip_limits AS cl
 WHERE NOT EXISTS (SELECT 1 FROM quota.saved_clip_limits AS s WHERE s.tier = cl.tier);
INSERT INTO public.clip_limits AS cl (tier, monthly_limit)
SELECT s.tier, s.monthly_limit FROM quota.saved_clip_limits AS s
ON CONFLICT (tier) DO UPDATE SET monthly_limit = EXCLUDED.monthly_limit;
DROP TABLE quota.saved_clip_limits;
