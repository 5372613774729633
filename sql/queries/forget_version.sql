-- Removes a reverted version from refinery's history table.
DELETE FROM public.quota_schema_history WHERE version = $1
