-- `bench --meter` on a trigger meter: two twins of the metered table in a
-- scratch schema ({schema}, a name quota generates), with its columns,
-- defaults, identity, constraints, indexes and foreign keys; the second
-- also gets the meter's installed trigger(s), exactly as installed on the
-- metered table (same function, same timing and transition table). The
-- metered table itself is never touched. Removed with the schema.
CREATE SCHEMA {schema};
CREATE TABLE {schema}.insert_floor (LIKE {on} INCLUDING ALL);
CREATE TABLE {schema}.insert_metered (LIKE {on} INCLUDING ALL);
DO $quota_bench$
DECLARE
  c record;
  n pg_catalog.int4 := 0;
BEGIN
  -- Catalog definitions print every name schema-qualified under this path.
  SET LOCAL search_path = pg_catalog, pg_temp;
  FOR c IN
    SELECT pg_catalog.pg_get_constraintdef(k.oid) AS def
      FROM pg_catalog.pg_constraint AS k
     WHERE k.conrelid = {on_literal}::pg_catalog.regclass AND k.contype = 'f'
     ORDER BY k.conname
  LOOP
    EXECUTE 'ALTER TABLE {schema}.insert_floor ADD ' || c.def;
    EXECUTE 'ALTER TABLE {schema}.insert_metered ADD ' || c.def;
  END LOOP;
  FOR c IN
    SELECT pg_catalog.pg_get_triggerdef(t.oid) AS def
      FROM pg_catalog.pg_trigger AS t
     WHERE t.tgrelid = {on_literal}::pg_catalog.regclass
       AND t.tgfoid = {trigger_function_literal}::pg_catalog.regprocedure
  LOOP
    EXECUTE pg_catalog.replace(
      c.def,
      ' ON ' || {on_literal}::pg_catalog.regclass::pg_catalog.text || ' ',
      ' ON {schema}.insert_metered ');
    n := n + 1;
  END LOOP;
  IF n = 0 THEN
    RAISE EXCEPTION 'the meter''s trigger is not on %', {on_literal}
      USING ERRCODE = 'undefined_object',
            HINT = 'Run quota migrate apply --repair.';
  END IF;
END
$quota_bench$;
