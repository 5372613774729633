-- Whether tier $1 has a row of its own in public.clip_limits, and a tier
-- there that differs from it only in case or surrounding blanks: the one
-- most users are on, then the one already trimmed and lowercase.
SELECT EXISTS (SELECT 1 FROM public.clip_limits AS cl WHERE cl.tier = $1) AS own,
       (SELECT cl.tier FROM public.clip_limits AS cl
         WHERE pg_catalog.lower(pg_catalog.btrim(cl.tier)) = pg_catalog.lower(pg_catalog.btrim($1))
           AND cl.tier <> $1
         ORDER BY (SELECT count(*) FROM public.users AS u WHERE u.subscription_tier = cl.tier) DESC,
                  cl.tier = pg_catalog.lower(pg_catalog.btrim(cl.tier)) DESC,
                  cl.tier
         LIMIT 1) AS similar
