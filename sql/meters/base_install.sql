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
-- What the meters took from the API roles on the application's tables
-- (revoke_table_privileges.sql), to give back with the last meter.
CREATE TABLE IF NOT EXISTS quota.meter_acl_changes (
  id bigserial PRIMARY KEY,
  rel text NOT NULL,
  grantee text NOT NULL,
  privilege text NOT NULL,
  grantable boolean NOT NULL
);
-- Default privileges may have granted the API roles these tables.
REVOKE ALL ON quota.meters, quota.meter_limits, quota.meter_acl_changes FROM PUBLIC;
DO $quota_base$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
    REVOKE ALL ON quota.meters, quota.meter_limits, quota.meter_acl_changes FROM anon;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
    REVOKE ALL ON quota.meters, quota.meter_limits, quota.meter_acl_changes FROM authenticated;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
    REVOKE ALL ON quota.meters, quota.meter_limits, quota.meter_acl_changes FROM service_role;
  END IF;
END
$quota_base$;
