-- The table a key column references, if any ($1 the table as regclass text,
-- $2 the column; on Supabase, profiles.id → auth.users), and the referenced
-- column: a scratch subject needs a row there first.
SELECT c.confrelid::regclass::text AS parent,
       pa.attname::text AS column
  FROM pg_catalog.pg_constraint AS c
  JOIN pg_catalog.pg_attribute AS a
    ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
  JOIN pg_catalog.pg_attribute AS pa
    ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
 WHERE c.conrelid = pg_catalog.to_regclass($1)
   AND c.contype = 'f'
   AND pg_catalog.array_length(c.conkey, 1) = 1
   AND a.attname = $2
 LIMIT 1
