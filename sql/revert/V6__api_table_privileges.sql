-- Revert V6: undo, newest first, every privilege V6 revoked from or
-- granted to the API roles (quota.api_acl_changes), so the ACLs of
-- public.users, public.user_usage and public.clip_limits and of their
-- columns are as V6 found them (quota.api_acl_found); then drop both
-- records. A grant made by hand since install is left alone, except a
-- column-level UPDATE V6 granted itself. A table or column dropped since,
-- or a role dropped since, is skipped.
DO $restore$
DECLARE
  v_change record;
  v_rel pg_catalog.regclass;
  v_target pg_catalog.text;
BEGIN
  IF pg_catalog.to_regclass('quota.api_acl_changes') IS NULL THEN
    RETURN;
  END IF;
  FOR v_change IN
    SELECT ch.rel, ch.col, ch.grantee, ch.privilege, ch.grantable, ch.change
      FROM quota.api_acl_changes AS ch
     ORDER BY ch.id DESC
  LOOP
    v_rel := pg_catalog.to_regclass(v_change.rel);
    CONTINUE WHEN v_rel IS NULL;
    CONTINUE WHEN v_change.col <> ''
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                               WHERE a.attrelid = v_rel AND a.attname = v_change.col
                                 AND a.attnum > 0 AND NOT a.attisdropped);
    IF v_change.grantee = 'PUBLIC' THEN
      v_target := 'PUBLIC';
    ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_change.grantee) THEN
      v_target := pg_catalog.quote_ident(v_change.grantee);
    ELSE
      CONTINUE;
    END IF;
    IF v_change.change = 'revoked' THEN
      EXECUTE pg_catalog.format('GRANT %s%s ON TABLE %s TO %s%s',
                                v_change.privilege,
                                CASE WHEN v_change.col = '' THEN ''
                                     ELSE pg_catalog.format(' (%I)', v_change.col) END,
                                v_rel, v_target,
                                CASE WHEN v_change.grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    ELSE
      EXECUTE pg_catalog.format('REVOKE %s%s ON TABLE %s FROM %s',
                                v_change.privilege,
                                CASE WHEN v_change.col = '' THEN ''
                                     ELSE pg_catalog.format(' (%I)', v_change.col) END,
                                v_rel, v_target);
    END IF;
  END LOOP;
END
$restore$;

DROP TABLE IF EXISTS quota.api_acl_changes;
DROP TABLE IF EXISTS quota.api_acl_found;
