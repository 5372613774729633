-- For each role in $1 and each way to change a counter, a period marker, a
-- limit or the tier behind it: whether the role holds the privilege
-- (directly, through PUBLIC or a membership), whether row level security is
-- out of its way, and which permissive policies would let it through. A role
-- can write only with the privilege AND (no RLS in its way OR an applicable
-- permissive policy). Inserting one's own users row sets its limits and
-- tier; deleting it (or the user_usage row) and inserting it again resets
-- the counters. TRUNCATE, TRIGGER and REFERENCES are checked apart
-- (check_table_privileges.sql): RLS does not apply to them.
-- keep_columns: the other columns the role may write with this command,
-- for a column-level grant that keeps profile edits working.
-- $2, $3, $4: the write paths to look at, pairwise: the table (regclass
-- text), the column (NULL: the whole row) and the command.
WITH targets (rel, col, cmd) AS (
  SELECT * FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]),
                           pg_catalog.unnest($4::text[]))
), protected (rel, col) AS (
  SELECT DISTINCT t.rel, t.col FROM targets AS t WHERE t.col IS NOT NULL
), rels AS (
  SELECT t.rel, t.col, t.cmd, c.oid AS relid, c.relrowsecurity, c.relforcerowsecurity, c.relowner
    FROM targets AS t
    JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(t.rel)
   WHERE t.col IS NULL
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                  WHERE a.attrelid = c.oid AND a.attname = t.col AND a.attnum > 0 AND NOT a.attisdropped)
)
SELECT ro.rolname::text AS role,
       r.rel,
       r.col,
       r.cmd,
       CASE WHEN r.col IS NOT NULL THEN pg_catalog.has_column_privilege(ro.oid, r.relid, r.col, r.cmd)
            WHEN r.cmd = 'DELETE' THEN pg_catalog.has_table_privilege(ro.oid, r.relid, r.cmd)
            ELSE pg_catalog.has_any_column_privilege(ro.oid, r.relid, r.cmd) END AS privileged,
       CASE WHEN NOT r.relrowsecurity THEN 'row level security is disabled'
            WHEN ro.rolbypassrls THEN 'the role has BYPASSRLS'
            WHEN NOT r.relforcerowsecurity AND pg_catalog.pg_has_role(ro.oid, r.relowner, 'USAGE')
              THEN 'the role owns the table'
       END AS rls_bypass,
       ARRAY(SELECT p.polname::text
               FROM pg_catalog.pg_policy AS p
              WHERE p.polrelid = r.relid
                AND p.polpermissive
                AND p.polcmd::text IN ('*', CASE r.cmd WHEN 'UPDATE' THEN 'w' WHEN 'INSERT' THEN 'a' ELSE 'd' END)
                AND EXISTS (SELECT 1 FROM unnest(p.polroles) AS pr
                             WHERE CASE WHEN pr = 0 THEN true
                                        ELSE pg_catalog.pg_has_role(ro.oid, pr, 'MEMBER') END)
              ORDER BY p.polname) AS policies,
       ARRAY(SELECT a.attname::text
               FROM pg_catalog.pg_attribute AS a
              WHERE r.col IS NOT NULL
                AND a.attrelid = r.relid AND a.attnum > 0 AND NOT a.attisdropped
                AND a.attgenerated = '' AND a.attidentity <> 'a'
                AND NOT EXISTS (SELECT 1 FROM protected AS pt WHERE pt.rel = r.rel AND pt.col = a.attname)
                AND pg_catalog.has_column_privilege(ro.oid, r.relid, a.attnum, r.cmd)
              ORDER BY a.attnum) AS keep_columns,
       EXISTS (SELECT 1 FROM pg_catalog.aclexplode(
                 (SELECT c.relacl FROM pg_catalog.pg_class AS c WHERE c.oid = r.relid)) AS acl
                WHERE acl.grantee = 0 AND acl.privilege_type = r.cmd)
         OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                     CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) AS acl
                     WHERE a.attrelid = r.relid AND a.attname = r.col
                       AND acl.grantee = 0 AND acl.privilege_type = r.cmd) AS public_holds,
       -- The roles whose own grant (table or column) this role uses: the
       -- ones a REVOKE must name.
       ARRAY(SELECT DISTINCT pg_catalog.pg_get_userbyid(g.grantee)::text
               FROM (SELECT acl.grantee, acl.privilege_type
                       FROM pg_catalog.pg_class AS c
                      CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS acl
                      WHERE c.oid = r.relid
                     UNION ALL
                     SELECT acl.grantee, acl.privilege_type
                       FROM pg_catalog.pg_attribute AS a
                      CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) AS acl
                      WHERE a.attrelid = r.relid AND a.attname = r.col) AS g
              WHERE g.grantee <> 0
                AND g.privilege_type = r.cmd
                AND pg_catalog.pg_has_role(ro.oid, g.grantee, 'USAGE')
              ORDER BY 1) AS grantees
  FROM rels AS r
 CROSS JOIN pg_catalog.pg_roles AS ro
 WHERE ro.rolname = ANY ($1)
 ORDER BY ro.rolname NOT IN ('anon', 'authenticated'), ro.rolname, r.rel, r.cmd, r.col
