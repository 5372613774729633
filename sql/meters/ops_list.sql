-- (after ops_subjects.sql) Subjects to test with: $1 = only those who can
-- still be admitted this period (a NULL limit admits nothing), $2 = how many.
SELECT id::pg_catalog.text AS subject, tier, used, lim AS "limit"
  FROM per_subject
 WHERE NOT $1 OR used < lim
 ORDER BY id
 LIMIT $2
