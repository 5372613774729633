-- Every view and materialized view that reads, at any depth, one of the
-- tables in $2: views over the tables, views over those views, and so on
-- (pg_rewrite rules and their pg_depend rows, walked up). One row per view
-- and base table it reaches. Completed by check_definer_views.sql or
-- check_counter_matviews.sql.
WITH RECURSIVE chain (view, base, path) AS (
  SELECT DISTINCT rw.ev_class, d.refobjid, ARRAY[rw.ev_class]
    FROM pg_catalog.pg_rewrite AS rw
    JOIN pg_catalog.pg_depend AS d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = rw.oid
   WHERE d.refclassid = 'pg_catalog.pg_class'::regclass
     AND d.refobjid IN (SELECT pg_catalog.to_regclass(t) FROM unnest($2::text[]) AS t)
     AND rw.ev_class <> d.refobjid
  UNION
  SELECT rw.ev_class, c.base, c.path || rw.ev_class
    FROM chain AS c
    JOIN pg_catalog.pg_depend AS d ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = c.view
                                   AND d.classid = 'pg_catalog.pg_rewrite'::regclass
    JOIN pg_catalog.pg_rewrite AS rw ON rw.oid = d.objid
   WHERE rw.ev_class <> c.view
     AND NOT rw.ev_class = ANY (c.path)
     AND pg_catalog.cardinality(c.path) < 32
), reached AS (
  SELECT DISTINCT c.view, c.base FROM chain AS c
)
