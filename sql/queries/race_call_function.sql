-- One admission attempt through the installed RPC.
SELECT allowed FROM public.increment_usage_if_allowed($1)
