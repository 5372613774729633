-- Run by `migrate rollback` in V3's revert step, before the revert drops
-- public.clip_limits: when limits were edited since install (a tier added
-- or a limit changed from the seeded free = 50, pro = 1000), the whole
-- table is kept in quota.saved_clip_limits, in quota's own schema (no API
-- role can use it; no revert drops it). The next `migrate apply` of V3
-- puts it back exactly (saved_limits_restore.sql). A table saved by an
-- earlier rollback is replaced. Returns nothing; saved_limits_count.sql says
-- what was kept.
DO $save$
BEGIN
  IF pg_catalog.to_regclass('public.clip_limits') IS NULL THEN
    RETURN;
  END IF;
  IF NOT EXISTS (
       SELECT 1
         FROM public.clip_limits AS cl
         LEFT JOIN (VALUES ('free', 50), ('pro', 1000)) AS d (tier, monthly_limit) ON d.tier = cl.tier
        WHERE d.monthly_limit IS DISTINCT FROM cl.monthly_limit) THEN
    RETURN;
  END IF;
  CREATE SCHEMA IF NOT EXISTS quota;
  CREATE TABLE IF NOT EXISTS quota.saved_clip_limits (
    tier text PRIMARY KEY,
    monthly_limit integer NOT NULL,
    saved_on timestamptz NOT NULL DEFAULT pg_catalog.now()
  );
  COMMENT ON TABLE quota.saved_clip_limits IS
    'quota: public.clip_limits as a rollback found it; the next `quota migrate apply` restores it';
  REVOKE ALL ON TABLE quota.saved_clip_limits FROM PUBLIC;
  DELETE FROM quota.saved_clip_limits;
  INSERT INTO quota.saved_clip_limits (tier, monthly_limit)
  SELECT cl.tier, cl.monthly_limit FROM public.clip_limits AS cl;
END
$save$
