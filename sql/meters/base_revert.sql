-- quota: removes what every mapped meter needed, once no meter is left; the
-- schema only when nothing else (the versioned history) lives in it.
-- Give back, newest first, what the meters took from the API roles; a
-- table or role dropped since is skipped.
DO $quota_acl$
DECLARE
  r record;
BEGIN
  IF pg_catalog.to_regclass('quota.meter_acl_changes') IS NULL THEN
    RETURN;
  END IF;
  FOR r IN SELECT * FROM quota.meter_acl_changes ORDER BY id DESC LOOP
    CONTINUE WHEN pg_catalog.to_regclass(r.rel) IS NULL;
    CONTINUE WHEN r.grantee <> 'PUBLIC' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.grantee);
    EXECUTE pg_catalog.format('GRANT %s ON TABLE %s TO %s%s', r.privilege, pg_catalog.to_regclass(r.rel),
                              CASE WHEN r.grantee = 'PUBLIC' THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.grantee) END,
                              CASE WHEN r.grantable THEN ' WITH GRANT OPTION' ELSE '' END);
  END LOOP;
END
$quota_acl$;
DROP TABLE IF EXISTS quota.meter_acl_changes;
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
