-- (after ops_subjects.sql) Subjects at their limit this period; a NULL
-- limit counts as reached (the enforcement fails closed).
SELECT id::pg_catalog.text AS subject, tier, used, lim AS "limit"
  FROM per_subject
 WHERE lim IS NULL OR used >= lim
 ORDER BY id
