-- quota: what every mapped meter needs, in quota's own schema (not exposed
-- by PostgREST): the meters installed, each with the mapping, checksum and
-- revert it was installed with, and limits per tier kept as data.
CREATE SCHEMA IF NOT EXISTS quota;
REVOKE ALL ON SCHEMA quota FROM PUBLIC;
CREATE TABLE IF NOT EXISTS quota.meters (
  meter text PRIMARY KEY,
  kind text NOT NULL,
  checksum text NOT NULL,
  mapping jsonb NOT NULL,
  revert_code text NOT NULL,
  revert_data text NOT NULL,
  body_md5 text NOT NULL,
  installed_on timestamptz NOT NULL DEFAULT pg_catalog.now(),
  installed_by text NOT NULL DEFAULT CURRENT_USER,
  quota_version text NOT NULL
);
CREATE TABLE IF NOT EXISTS quota.meter_limits (
  meter text NOT NULL,
  tier text NOT NULL,
  "limit" bigint NOT NULL CHECK ("limit" >= 0),
  PRIMARY KEY (meter, tier)
);
-- Default privileges may have granted the API roles these tables.
REVOKE ALL ON quota.meters, quota.meter_limits FROM PUBLIC;
DO $quota_base$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON quota.meters, quota.meter_limits FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON quota.meters, quota.meter_limits FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON quota.meters, quota.meter_limits FROM service_role;
  END IF;
END
$quota_base$;
