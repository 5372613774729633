-- A mapped meter's trigger on its table ($1 table, regclass text; $2 name):
-- enabled state and whether it fires AFTER INSERT FOR EACH STATEMENT with a
-- transition table (tgtype 4 = INSERT, no ROW, no BEFORE bit).
SELECT t.tgenabled::text, t.tgtype::int4, t.tgnewtable IS NOT NULL
  FROM pg_catalog.pg_trigger AS t
 WHERE t.tgrelid = pg_catalog.to_regclass($1) AND t.tgname = $2 AND NOT t.tgisinternal
