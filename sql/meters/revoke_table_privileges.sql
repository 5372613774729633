-- The privileges row level security does not restrict, taken from anon,
-- authenticated and PUBLIC on the tables holding this meter's counter,
-- limit and tier (Supabase's default privileges grant them): TRUNCATE
-- empties the counters, a trigger of theirs would run inside quota's
-- writes, REFERENCES lets a foreign key probe rows; MAINTAIN (PostgreSQL
-- 17+) lets them lock the table. Each one taken is recorded and given back
-- when the last meter is removed (base_revert.sql).
DO $quota_acl$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT c.oid::pg_catalog.regclass AS rel,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::pg_catalog.text END AS grantee,
           a.privilege_type AS privilege,
           a.is_grantable AS grantable
      FROM pg_catalog.pg_class AS c
     CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS a
     WHERE c.oid IN (SELECT pg_catalog.to_regclass(t) FROM pg_catalog.unnest(ARRAY[{tables}]::pg_catalog.text[]) AS t)
       AND a.privilege_type IN ('TRUNCATE', 'TRIGGER', 'REFERENCES', 'MAINTAIN')
       AND (a.grantee = 0 OR pg_catalog.pg_get_userbyid(a.grantee) IN ('anon', 'authenticated'))
       AND a.grantor = c.relowner
  LOOP
    INSERT INTO quota.meter_acl_changes (rel, grantee, privilege, grantable)
    VALUES (r.rel::pg_catalog.text, r.grantee, r.privilege, r.grantable);
    EXECUTE pg_catalog.format('REVOKE %s ON TABLE %s FROM %s', r.privilege, r.rel,
                              CASE WHEN r.grantee = 'PUBLIC' THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.grantee) END);
  END LOOP;
END
$quota_acl$;
