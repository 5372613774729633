-- A subject's limit ($1) of one mapped meter by its tier, or the default
-- tier's; no row when there is no such subject.
SELECT COALESCE((SELECT l."limit" FROM quota.meter_limits AS l
                  WHERE l.meter = {meter_literal} AND l.tier = s.{tier}),
                (SELECT l."limit" FROM quota.meter_limits AS l
                  WHERE l.meter = {meter_literal} AND l.tier = {default_tier}))
  FROM {subject_table} AS s
 WHERE s.{subject_key} = $1
