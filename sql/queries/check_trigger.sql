-- Whether the clip-limit trigger exists, with what the check needs:
-- the table, the timing/event/level bits, whether it fires, its function,
-- and the transition table of inserted rows it names (V7).
SELECT t.tgrelid = pg_catalog.to_regclass('public.clips') AS on_clips,
       t.tgrelid::regclass::text AS table_name,
       t.tgtype::int4 AS tgtype,
       t.tgenabled::text AS enabled,
       t.tgfoid = pg_catalog.to_regprocedure('public.enforce_clip_limit()') AS calls_function,
       t.tgfoid::regprocedure::text AS function,
       t.tgqual IS NULL AS unconditional,
       pg_catalog.pg_get_triggerdef(t.oid) AS definition,
       t.tgnewtable::text AS new_table
  FROM pg_catalog.pg_trigger AS t
 WHERE t.tgname = 'enforce_clip_limit_trigger'
   AND NOT t.tgisinternal
 ORDER BY on_clips DESC
