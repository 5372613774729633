-- Removes the scratch tier ($2) `bench --meter` added for meter $1.
DELETE FROM quota.meter_limits WHERE meter = $1 AND tier = $2
