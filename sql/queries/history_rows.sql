-- Every version recorded in a history table, oldest first, in the row format
-- refinery writes: {history} is quota.schema_history or the old
-- public.quota_schema_history (a table name cannot be a bound parameter).
SELECT version, name, applied_on, checksum FROM {history} ORDER BY version ASC
