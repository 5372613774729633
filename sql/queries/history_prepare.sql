-- quota's migration history in a schema of its own, out of the API's reach:
-- PostgREST exposes `public` (and what a project adds), and Supabase's
-- default privileges grant ALL on every new table in `public` to anon and
-- authenticated. An install that kept its history in
-- public.quota_schema_history is moved here, in this same transaction.
-- Run by `migrate apply`, `rollback` and `--repair` under the migration lock.
CREATE SCHEMA IF NOT EXISTS quota;
COMMENT ON SCHEMA quota IS 'quota: the migration history of quota (not for the API)';

DO $move$
BEGIN
  IF pg_catalog.to_regclass('public.quota_schema_history') IS NOT NULL THEN
    IF pg_catalog.to_regclass('quota.schema_history') IS NOT NULL THEN
      RAISE EXCEPTION 'both public.quota_schema_history and quota.schema_history exist'
        USING ERRCODE = 'duplicate_table',
              HINT = 'keep the one with the right rows and drop the other';
    END IF;
    ALTER TABLE public.quota_schema_history SET SCHEMA quota;
    ALTER TABLE quota.quota_schema_history RENAME TO schema_history;
  END IF;
END
$move$;

-- refinery's own definition, created here so the privileges below apply to
-- it before its first row.
CREATE TABLE IF NOT EXISTS quota.schema_history (
  version INT4 PRIMARY KEY,
  name VARCHAR(255),
  applied_on VARCHAR(255),
  checksum VARCHAR(255)
);

REVOKE ALL ON SCHEMA quota FROM PUBLIC;
REVOKE ALL ON TABLE quota.schema_history FROM PUBLIC;
DO $revoke$
DECLARE
  r pg_catalog.text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA quota FROM %I', r);
      EXECUTE pg_catalog.format('REVOKE ALL ON TABLE quota.schema_history FROM %I', r);
    END IF;
  END LOOP;
END
$revoke$;
