UPDATE public.users SET usage_this_month = 0 WHERE id = $1
