-- How many mapped meters are still installed.
SELECT pg_catalog.count(*) FROM quota.meters
