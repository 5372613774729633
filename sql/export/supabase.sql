-- quota V{version}__{name}: installs this version of quota's usage-limit
-- enforcement and records it in quota.schema_history with checksum
-- {checksum}, exactly as `quota migrate apply` would, so `quota migrate
-- status` and `quota verify` see it as applied by quota.
-- Written by `quota migrate export --supabase`; do not edit.
-- One transaction. Refuses (changing nothing) when V{version} is already
-- recorded, or an earlier version is not: apply quota's files in name
-- order, after the migrations that create the application's tables.
BEGIN;

-- quota's migration lock, so a concurrent `quota migrate` waits for this file.
SELECT pg_catalog.pg_advisory_xact_lock({lock_key});
-- On a live database the DDL below waits at most this long for a table lock
-- (the application's inserts queue behind a waiting ALTER): on a busy
-- `clips` table the file fails whole and can simply be applied again.
SET LOCAL lock_timeout = '10s';

{history_prepare}
DO $quota_export$
BEGIN
  IF EXISTS (SELECT 1 FROM quota.schema_history WHERE version = {version}) THEN
    RAISE EXCEPTION 'quota V{version} is already recorded in quota.schema_history'
      USING ERRCODE = 'unique_violation',
            HINT = 'nothing was changed; this database got V{version} from `quota migrate apply` or an earlier run of this file (with the Supabase CLI: supabase migration repair --status applied <this file''s timestamp>)';
  END IF;
  IF {previous} > 0 AND NOT EXISTS (SELECT 1 FROM quota.schema_history WHERE version = {previous}) THEN
    RAISE EXCEPTION 'quota V{previous} is not recorded, so V{version} cannot be applied'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'nothing was changed; apply quota''s files in name order, or run `quota migrate apply`';
  END IF;
END
$quota_export$;

-- V{version}__{name}.sql as quota embeds it.
{migration}
-- The history row refinery's format expects (applied_on RFC 3339, checksum as text).
INSERT INTO quota.schema_history (version, name, applied_on, checksum)
VALUES ({version}, '{name}',
        pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        '{checksum}');

COMMIT;
