-- (after ops_subjects.sql) Subjects at $1 (a share) or more of their
-- limit this period, but not at it.
SELECT id::pg_catalog.text AS subject, tier, used, lim AS "limit"
  FROM per_subject
 WHERE used < lim AND used >= $1::pg_catalog.float8::pg_catalog.numeric * lim
 ORDER BY id
