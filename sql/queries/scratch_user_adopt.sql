-- Adopts the profile a signup trigger on the referenced table (Supabase's
-- handle_new_user on auth.users) made for a scratch user in the same
-- transaction: sets what the race or bench needs and fills a missing
-- e-mail, leaving what the trigger chose. No row: quota inserts its own.
UPDATE public.users
   SET email = coalesce(email, $2),
       usage_this_month = $3,
       plan_limits_scrapes = $4,
       subscription_tier = $5
 WHERE id = $1
