-- (after ops_subjects.sql) One subject ($1) of a mapped meter; no row when
-- the meter's subject table has no such key.
SELECT id::pg_catalog.text AS subject, tier, used, lim AS "limit", own_limit, stored, marker, period
  FROM per_subject
 WHERE id = $1
