-- TRUNCATE, TRIGGER and REFERENCES on the counter and limit tables held by
-- a role in $1 (directly, through PUBLIC or a membership). Row level
-- security does not apply to any of them: TRUNCATE empties the counters, a
-- trigger of the role's own runs inside quota's SECURITY DEFINER writes, and
-- REFERENCES lets a foreign key probe and block rows. public_holds: PUBLIC
-- itself holds one of them, so the REVOKE must name PUBLIC too.
-- $2: the tables (regclass text): the default mapping's users, user_usage
-- and clip_limits, or a mapping's counter and subject tables.
WITH rels (rel) AS (
  SELECT * FROM pg_catalog.unnest($2::text[])
)
SELECT r.rel,
       ARRAY(SELECT ro.rolname::text
               FROM pg_catalog.pg_roles AS ro
              WHERE ro.rolname = ANY ($1)
                AND (pg_catalog.has_table_privilege(ro.oid, c.oid, 'TRUNCATE')
                     OR pg_catalog.has_table_privilege(ro.oid, c.oid, 'TRIGGER')
                     OR pg_catalog.has_table_privilege(ro.oid, c.oid, 'REFERENCES')
                     OR pg_catalog.has_any_column_privilege(ro.oid, c.oid, 'REFERENCES'))
              ORDER BY ro.rolname NOT IN ('anon', 'authenticated'), ro.rolname) AS roles,
       ARRAY(SELECT DISTINCT acl.privilege_type::text
               FROM pg_catalog.pg_roles AS ro
              CROSS JOIN LATERAL (VALUES ('TRUNCATE'), ('TRIGGER'), ('REFERENCES')) AS acl (privilege_type)
              WHERE ro.rolname = ANY ($1)
                AND pg_catalog.has_table_privilege(ro.oid, c.oid, acl.privilege_type)
              ORDER BY 1) AS privileges,
       EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) AS acl
                WHERE acl.grantee = 0 AND acl.privilege_type IN ('TRUNCATE', 'TRIGGER', 'REFERENCES')) AS public_holds,
       -- The roles holding them by a grant of their own that an API role
       -- uses: the ones a REVOKE must name.
       ARRAY(SELECT DISTINCT pg_catalog.pg_get_userbyid(acl.grantee)::text
               FROM pg_catalog.aclexplode(c.relacl) AS acl
              WHERE acl.grantee <> 0
                AND acl.privilege_type IN ('TRUNCATE', 'TRIGGER', 'REFERENCES')
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS ro
                             WHERE ro.rolname = ANY ($1)
                               AND pg_catalog.pg_has_role(ro.oid, acl.grantee, 'USAGE'))
              ORDER BY 1) AS grantees
  FROM rels AS r
  JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(r.rel)
 ORDER BY r.rel
