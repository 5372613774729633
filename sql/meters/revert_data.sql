{marker_drop}DELETE FROM quota.meter_limits WHERE meter = {meter_literal};
