DROP FUNCTION IF EXISTS {function}(pg_catalog.uuid, pg_catalog.int4);
