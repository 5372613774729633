-- Tiers users are on that have no row of their own in public.clip_limits:
-- the trigger gives them the free limit, so a typo ('Pro' for 'pro') gives
-- a paying user the free limit. `similar` is a tier of clip_limits that
-- differs only in case or surrounding blanks: the tier probably meant (the
-- one most users are on, then the one already trimmed and lowercase).
-- Users with no tier at all (NULL) get the free limit by design.
SELECT u.subscription_tier AS tier,
       count(*)::int8 AS subjects,
       (SELECT cl.tier FROM public.clip_limits AS cl
         WHERE pg_catalog.lower(pg_catalog.btrim(cl.tier)) = pg_catalog.lower(pg_catalog.btrim(u.subscription_tier))
         ORDER BY (SELECT count(*) FROM public.users AS o WHERE o.subscription_tier = cl.tier) DESC,
                  cl.tier = pg_catalog.lower(pg_catalog.btrim(cl.tier)) DESC,
                  cl.tier
         LIMIT 1) AS similar
  FROM public.users AS u
 WHERE u.subscription_tier IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM public.clip_limits AS cl WHERE cl.tier = u.subscription_tier)
 GROUP BY u.subscription_tier
 ORDER BY count(*) DESC, u.subscription_tier
