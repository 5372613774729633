-- `quota limits set TIER N --meter clips`: the tier's row in
-- public.clip_limits, created when the tier has none yet (a new tier).
-- Returns the limit before (NULL for a new row).
WITH before AS (
  SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = $1 FOR UPDATE
), upsert AS (
  INSERT INTO public.clip_limits AS cl (tier, monthly_limit)
  VALUES ($1, $2)
  ON CONFLICT (tier) DO UPDATE SET monthly_limit = EXCLUDED.monthly_limit
  RETURNING cl.monthly_limit
)
SELECT (SELECT monthly_limit FROM before)::int8 AS before,
       (SELECT monthly_limit FROM upsert)::int8 AS after
