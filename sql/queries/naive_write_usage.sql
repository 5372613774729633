-- Application code without enforcement, step 4: write back what was read plus one.
-- Concurrent callers overwrite each other's increments (lost updates).
UPDATE public.users SET usage_this_month = $2 WHERE id = $1
