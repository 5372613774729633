-- The enabled BEFORE INSERT row triggers of a table, other than internal
-- ones: one of them may fill a required column an insert leaves out.
-- tgtype bits: 1 = ROW, 2 = BEFORE, 4 = INSERT.
SELECT t.tgname::text AS name
  FROM pg_catalog.pg_trigger AS t
 WHERE t.tgrelid = $1::regclass
   AND NOT t.tgisinternal
   AND t.tgenabled <> 'D'
   AND (t.tgtype & 7) = 7
 ORDER BY t.tgname
