ALTER TABLE {counter_table} DROP COLUMN IF EXISTS {marker};
