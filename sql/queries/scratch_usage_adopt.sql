-- Adopts a clip counter row a signup trigger made for a scratch user in
-- the same transaction. No row: quota inserts its own.
UPDATE public.user_usage SET clips_this_month = $2 WHERE user_id = $1
