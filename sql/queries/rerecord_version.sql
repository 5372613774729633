-- Re-records a repaired version with the embedded file's name and checksum
-- (refinery's history keeps the checksum as text).
-- {history} is quota's history table (a constant of the build).
UPDATE {history} SET name = $2, checksum = $3 WHERE version = $1
