-- The primary key columns of public.clips, in key order: a race on a real
-- user finds its own clips again by them, which application UPDATEs (an
-- AFTER INSERT trigger filling a title, a worker touching rows) leave alone,
-- unlike (ctid, xmin).
SELECT a.attname::text
  FROM pg_catalog.pg_index AS i
  JOIN pg_catalog.pg_attribute AS a
    ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
 WHERE i.indrelid = 'public.clips'::regclass
   AND i.indisprimary
 ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)
