-- The meter's period marker beside its counter. The default is stable, not
-- volatile: PostgreSQL evaluates it once and stores it in the catalog
-- instead of rewriting the table, so existing counters belong to the period
-- of installation (the application has been counting this period), and
-- rows inserted later get the period they are inserted in.
ALTER TABLE {counter_table} ADD COLUMN IF NOT EXISTS {marker} pg_catalog.date NOT NULL DEFAULT {period_start};
