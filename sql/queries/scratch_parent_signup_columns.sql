-- The columns of the table public.users.id references (on Supabase:
-- auth.users) that a signup trigger such as Supabase's handle_new_user
-- reads: e-mail, metadata, audience and role, with their catalog types.
-- A scratch row gets a value for each that exists ($2: their names).
SELECT a.attname::text AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       t.typcategory::text AS category,
       t.typname::text AS base
  FROM pg_catalog.pg_attribute AS a
  JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
 WHERE a.attrelid = $1::regclass
   AND a.attnum > 0
   AND NOT a.attisdropped
   AND a.attgenerated = ''
   AND a.attidentity = ''
   AND a.attname = ANY ($2)
 ORDER BY a.attnum
