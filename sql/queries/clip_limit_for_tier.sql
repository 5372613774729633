-- The monthly clip limit of a tier, as the trigger computes it: the tier's
-- row in public.clip_limits, or the free limit for an unknown tier.
SELECT COALESCE(
         (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = $1),
         (SELECT cl.monthly_limit FROM public.clip_limits AS cl WHERE cl.tier = 'free'))
