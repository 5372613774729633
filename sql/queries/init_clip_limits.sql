-- quota init: the per-tier clip limits quota's V3 keeps in
-- public.clip_limits, written into the guessed `limits` of the clip meter.
SELECT tier::text, monthly_limit::int8
  FROM public.clip_limits
 WHERE tier IS NOT NULL AND monthly_limit IS NOT NULL
 ORDER BY monthly_limit, tier
