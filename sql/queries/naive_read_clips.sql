-- The application's pre-check without enforcement, step 1: read the clip counter and tier
-- (no lock; no row counts as 0).
SELECT COALESCE(uu.clips_this_month, 0), u.subscription_tier
  FROM public.users AS u
  LEFT JOIN public.user_usage AS uu ON uu.user_id = u.id
 WHERE u.id = $1
