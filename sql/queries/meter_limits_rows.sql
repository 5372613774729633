-- A mapped meter's limits per tier as the database has them.
SELECT tier, "limit" FROM quota.meter_limits WHERE meter = $1 ORDER BY tier
