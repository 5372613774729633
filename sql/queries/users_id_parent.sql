-- The table public.users.id references, if any (on Supabase: auth.users),
-- and the referenced column: a scratch user needs a row there first.
SELECT c.confrelid::regclass::text AS parent,
       pa.attname::text AS column
  FROM pg_catalog.pg_constraint AS c
  JOIN pg_catalog.pg_attribute AS a
    ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
  JOIN pg_catalog.pg_attribute AS pa
    ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
 WHERE c.conrelid = 'public.users'::regclass
   AND c.contype = 'f'
   AND array_length(c.conkey, 1) = 1
   AND a.attname = 'id'
 LIMIT 1
