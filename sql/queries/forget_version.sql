-- Removes a reverted version from refinery's history table.
DELETE FROM quota.schema_history WHERE version = $1
