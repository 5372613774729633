-- V6: the API roles lose what lets them damage the tables quota guards,
-- so a stock Supabase project passes `quota verify` right after install.
--
-- Supabase's default privileges give anon and authenticated ALL on every
-- table postgres creates in public. Row level security restricts none of
-- these: TRUNCATE empties the counters, TRIGGER lets a role run its own
-- trigger inside quota's SECURITY DEFINER writes, REFERENCES lets a
-- foreign key probe and block rows, and any TABLE-level UPDATE, DELETE or
-- TRUNCATE (PostgreSQL 17+: MAINTAIN) is all `LOCK TABLE ... IN ACCESS
-- EXCLUSIVE MODE` needs, which stalls every user's RPC call and clip insert.
-- So on public.users, public.user_usage and public.clip_limits this version
-- revokes exactly those table-level privileges from anon, authenticated and
-- PUBLIC, where they are held, and replaces a table-level UPDATE by
-- column-level UPDATE on the columns the rule below allows (never anon's:
-- it has no profile to edit), so profile edits keep working. SELECT and
-- INSERT stay: row level security governs them.
--
-- What it found is recorded in quota.api_acl_found (every ACL of the three
-- tables and their columns, before any change), and every privilege it
-- revoked or granted in quota.api_acl_changes; the revert script undoes
-- exactly those changes, newest first, so the ACLs are as they were found.
-- Re-running this file (`migrate apply --repair`) keeps the first record
-- and revokes only what was granted again since.
--
-- On plain PostgreSQL (no anon/authenticated) nothing is revoked: PUBLIC's
-- privileges there are the application's business.

-- quota creates its schema before any migration runs (with the history);
-- named here too so this file also runs on its own (psql, lint).
CREATE SCHEMA IF NOT EXISTS quota;

CREATE TABLE IF NOT EXISTS quota.api_acl_found (
  rel text NOT NULL,
  col text NOT NULL DEFAULT '', -- '' is the table itself (relacl), else a column (attacl)
  acl aclitem[], -- NULL: PostgreSQL's default (the owner only)
  found_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (rel, col)
);
COMMENT ON TABLE quota.api_acl_found IS
  'quota: the ACLs of the tables quota guards as V6 found them (not for the API)';

CREATE TABLE IF NOT EXISTS quota.api_acl_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rel text NOT NULL,
  col text NOT NULL DEFAULT '', -- '' is the table itself
  grantee text NOT NULL, -- a role name, or PUBLIC
  privilege text NOT NULL,
  grantable boolean NOT NULL DEFAULT false,
  change text NOT NULL CHECK (change IN ('revoked', 'granted'))
);
COMMENT ON TABLE quota.api_acl_changes IS
  'quota: the privileges V6 revoked from or granted to the API roles; its revert undoes them';

REVOKE ALL ON TABLE quota.api_acl_found, quota.api_acl_changes FROM PUBLIC;
DO $private$
DECLARE
  r pg_catalog.text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE pg_catalog.format('REVOKE ALL ON TABLE quota.api_acl_found, quota.api_acl_changes FROM %I', r);
    END IF;
  END LOOP;
END
$private$;

-- The rule for the columns UPDATE may be granted on, the very text of
-- sql/queries/safe_update_columns.sql (hints use that file). Dropped at the
-- end of this file: it exists only inside this transaction.
CREATE OR REPLACE FUNCTION quota.safe_update_columns(p_table text)
RETURNS SETOF text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $safe_update_columns$
-- The one rule for which columns of table $1 (schema-qualified name) a
-- hint or migration V6 may grant UPDATE on to an API role, so profile
-- edits keep working without reopening a hole. Never:
--  * a column quota reads or writes: the counters, limits, tier, plan,
--    subscription_status and period markers, the keys users.id and
--    user_usage.user_id, and every column of clip_limits (a user would
--    raise their own quota, or move their exhausted counter row onto
--    another user);
--  * a column of the primary key or of any unique index or constraint (a
--    user could take over another's key, or claim another's UNIQUE value
--    such as stripe_customer_id), including columns a unique expression
--    index uses;
--  * a generated or GENERATED ALWAYS identity column (not writable).
-- V6 runs this same text as the body of a SQL function; a unit test in
-- migrate::embedded holds the two together.
SELECT a.attname::pg_catalog.text
  FROM pg_catalog.pg_attribute AS a
 WHERE a.attrelid = pg_catalog.to_regclass($1)
   AND a.attnum > 0
   AND NOT a.attisdropped
   AND a.attgenerated = ''
   AND a.attidentity <> 'a'
   AND a.attrelid IS DISTINCT FROM pg_catalog.to_regclass('public.clip_limits')
   AND NOT (a.attrelid = pg_catalog.to_regclass('public.users')
            AND a.attname IN ('id', 'usage_this_month', 'plan_limits_scrapes', 'usage_period_start',
                              'subscription_tier', 'plan', 'subscription_status'))
   AND NOT (a.attrelid = pg_catalog.to_regclass('public.user_usage')
            AND a.attname IN ('user_id', 'clips_this_month', 'clips_period_start'))
   AND NOT EXISTS (SELECT 1
                     FROM pg_catalog.pg_index AS i
                    WHERE i.indrelid = a.attrelid
                      AND i.indisunique
                      AND (a.attnum = ANY (i.indkey::pg_catalog.int2[])
                           OR EXISTS (SELECT 1
                                        FROM pg_catalog.pg_depend AS d
                                       WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                         AND d.objid = i.indexrelid
                                         AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                         AND d.refobjid = a.attrelid
                                         AND d.refobjsubid = a.attnum)))
 ORDER BY a.attnum
$safe_update_columns$;

DO $acl$
DECLARE
  v_rel pg_catalog.text;
  v_oid pg_catalog.oid;
  v_item record;
  v_col record;
  v_target pg_catalog.text;
  v_safe pg_catalog.text;
  -- What LOCK TABLE ... ACCESS EXCLUSIVE accepts, and what RLS does not restrict.
  v_privileges pg_catalog.text[] := ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'MAINTAIN', 'TRIGGER', 'REFERENCES'];
  v_api pg_catalog.oid[] := ARRAY(SELECT oid FROM pg_catalog.pg_roles
                                   WHERE rolname IN ('anon', 'authenticated'));
BEGIN
  FOREACH v_rel IN ARRAY ARRAY['public.users', 'public.user_usage', 'public.clip_limits'] LOOP
    v_oid := pg_catalog.to_regclass(v_rel);
    CONTINUE WHEN v_oid IS NULL;

    -- What was found, recorded once: a re-run keeps the first record.
    INSERT INTO quota.api_acl_found (rel, col, acl)
    SELECT v_rel, '', c.relacl FROM pg_catalog.pg_class AS c WHERE c.oid = v_oid
    UNION ALL
    SELECT v_rel, a.attname::pg_catalog.text, a.attacl
      FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = v_oid AND a.attnum > 0 AND NOT a.attisdropped
    ON CONFLICT (rel, col) DO NOTHING;

    -- No API roles (plain PostgreSQL): nothing to take away.
    CONTINUE WHEN pg_catalog.cardinality(v_api) = 0;

    FOR v_item IN
      SELECT DISTINCT acl.grantee, acl.privilege_type, acl.is_grantable,
             CASE WHEN acl.grantee = 0 THEN 'PUBLIC'
                  ELSE pg_catalog.pg_get_userbyid(acl.grantee)::pg_catalog.text END AS name
        FROM pg_catalog.pg_class AS c
       CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS acl
       WHERE c.oid = v_oid
         AND acl.privilege_type = ANY (v_privileges)
         AND (acl.grantee = 0 OR acl.grantee = ANY (v_api))
       ORDER BY 4, 2
    LOOP
      v_target := CASE WHEN v_item.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(v_item.name) END;
      -- A table-level REVOKE of UPDATE or REFERENCES takes the same
      -- column-level privileges of that grantee with it: record them too.
      FOR v_col IN
        SELECT a.attname::pg_catalog.text AS attname, acl.is_grantable
          FROM pg_catalog.pg_attribute AS a
         CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) AS acl
         WHERE a.attrelid = v_oid AND a.attnum > 0 AND NOT a.attisdropped
           AND acl.grantee = v_item.grantee
           AND acl.privilege_type = v_item.privilege_type
         ORDER BY a.attnum
      LOOP
        INSERT INTO quota.api_acl_changes (rel, col, grantee, privilege, grantable, change)
        VALUES (v_rel, v_col.attname, v_item.name, v_item.privilege_type, v_col.is_grantable, 'revoked');
      END LOOP;
      EXECUTE pg_catalog.format('REVOKE %s ON TABLE %s FROM %s',
                                v_item.privilege_type, v_oid::pg_catalog.regclass, v_target);
      INSERT INTO quota.api_acl_changes (rel, col, grantee, privilege, grantable, change)
      VALUES (v_rel, '', v_item.name, v_item.privilege_type, v_item.is_grantable, 'revoked');

      -- Profile edits keep working: UPDATE on the columns the rule allows,
      -- for every grantee but anon (no profile) and PUBLIC (anon included).
      IF v_item.privilege_type = 'UPDATE' AND v_item.grantee <> 0 AND v_item.name <> 'anon' THEN
        FOR v_safe IN SELECT s FROM quota.safe_update_columns(v_rel) AS s LOOP
          EXECUTE pg_catalog.format('GRANT UPDATE (%I) ON TABLE %s TO %s',
                                    v_safe, v_oid::pg_catalog.regclass, v_target);
          INSERT INTO quota.api_acl_changes (rel, col, grantee, privilege, grantable, change)
          VALUES (v_rel, v_safe, v_item.name, 'UPDATE', false, 'granted');
        END LOOP;
      END IF;
    END LOOP;
  END LOOP;
END
$acl$;

-- The rule's function was created above in this same transaction; no
-- client can have used it.
-- squawk-ignore ban-drop-function
DROP FUNCTION quota.safe_update_columns(text);
