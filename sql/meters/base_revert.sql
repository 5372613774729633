-- quota: removes what every mapped meter needed, once no meter is left; the
-- schema only when nothing else (the versioned history) lives in it.
DROP TABLE IF EXISTS quota.meter_limits;
DROP TABLE IF EXISTS quota.meters;
DO $quota_base$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'quota')
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'quota')
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'quota') THEN
    DROP SCHEMA IF EXISTS quota;
  END IF;
END
$quota_base$;
