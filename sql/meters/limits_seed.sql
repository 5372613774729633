-- The meter's limits per tier, as quota.toml declares them (the file is
-- the source of truth).
DELETE FROM quota.meter_limits WHERE meter = {meter_literal};
INSERT INTO quota.meter_limits (meter, tier, "limit") VALUES {limit_rows};
