-- The meter's period marker beside its counter: a constant default, so
-- adding it does not rewrite the table.
ALTER TABLE {counter_table} ADD COLUMN IF NOT EXISTS {marker} pg_catalog.date NOT NULL DEFAULT '1970-01-01';
