-- The user's clip counter as the trigger sees it (0 without a user_usage row
-- or in a new UTC month) and their tier's limit (free for unknown tiers).
SELECT CASE WHEN uu.clips_period_start < (date_trunc('month', now() AT TIME ZONE 'UTC'))::date
            THEN 0 ELSE COALESCE(uu.clips_this_month, 0) END AS counter,
       COALESCE(cl.monthly_limit,
                (SELECT f.monthly_limit FROM public.clip_limits AS f WHERE f.tier = 'free')) AS limit
  FROM public.users AS u
  LEFT JOIN public.user_usage AS uu ON uu.user_id = u.id
  LEFT JOIN public.clip_limits AS cl ON cl.tier = u.subscription_tier
 WHERE u.id = $1
