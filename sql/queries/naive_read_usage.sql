-- Application code without enforcement, step 1: read the user (no lock).
SELECT usage_this_month, plan_limits_scrapes FROM public.users WHERE id = $1
