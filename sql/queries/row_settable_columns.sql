-- Columns an UPDATE may set: not dropped, not generated, not GENERATED
-- ALWAYS AS IDENTITY.
SELECT a.attname::text
  FROM pg_catalog.pg_attribute AS a
 WHERE a.attrelid = $1::regclass
   AND a.attnum > 0
   AND NOT a.attisdropped
   AND a.attgenerated = ''
   AND a.attidentity <> 'a'
