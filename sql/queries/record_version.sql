-- Records an applied version in refinery's history format (applied_on as
-- RFC 3339 text, checksum as text), so refinery reads it back unchanged.
-- {history} is quota's history table (a constant of the build).
INSERT INTO {history} (version, name, applied_on, checksum) VALUES ($1, $2, $3, $4)
