-- Removes a reverted version from refinery's history table.
-- {history} is quota's history table (a constant of the build).
DELETE FROM {history} WHERE version = $1
