UPDATE public.users SET usage_this_month = $2 WHERE id = $1
