-- The versions the history records, read under the migration lock.
-- {history} is quota's history table (a constant of the build).
SELECT version FROM {history} ORDER BY version
