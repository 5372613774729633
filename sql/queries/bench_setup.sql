-- quota bench: two scratch tables shaped like public.clips (columns,
-- defaults, identity, constraints, indexes; no foreign keys), one plain and
-- one with the installed trigger function attached exactly as the
-- migrations attach it to public.clips (AFTER INSERT; the placeholder
-- before EXECUTE is FOR EACH ROW up to V6, REFERENCING NEW TABLE AS
-- inserted_clips FOR EACH STATEMENT since V7, as the live trigger has it; the real
-- public.enforce_clip_limit(), not a copy). The live trigger on
-- public.clips is never touched: disabling it would take a lock the
-- application's inserts queue behind. {schema} is a name quota generates.
CREATE SCHEMA {schema};
CREATE TABLE {schema}.clips_plain (LIKE public.clips INCLUDING ALL);
CREATE TABLE {schema}.clips_trigger (LIKE public.clips INCLUDING ALL);
CREATE TRIGGER enforce_clip_limit_trigger
  AFTER INSERT ON {schema}.clips_trigger
  {for_each}
  EXECUTE FUNCTION public.enforce_clip_limit();
