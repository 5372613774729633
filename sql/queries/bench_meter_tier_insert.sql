-- `bench --meter` on a meter with limits per tier: quota's scratch tier
-- ($2, a name quota generates) for meter $1, with an unreachable limit ($3).
INSERT INTO quota.meter_limits (meter, tier, "limit") VALUES ($1, $2, $3)
