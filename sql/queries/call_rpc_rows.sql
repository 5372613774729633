-- The RPC as an API caller invokes it: every row it returns.
SELECT * FROM public.increment_usage_if_allowed($1)
