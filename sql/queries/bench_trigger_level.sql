-- quota bench: whether the live clip trigger fires once per statement (V7,
-- with a transition table) rather than once per row (V4-V6), so the
-- scratch trigger is attached the same way. NULL when it is missing.
SELECT (t.tgtype::int4 & 1) = 0 AS per_statement
  FROM pg_catalog.pg_trigger AS t
 WHERE t.tgrelid = pg_catalog.to_regclass('public.clips')
   AND t.tgname = 'enforce_clip_limit_trigger'
   AND NOT t.tgisinternal
