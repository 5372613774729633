-- One test call of the function, with a bound user id.
SELECT allowed, new_usage, effective_limit, plan, subscription_status
  FROM public.increment_usage_if_allowed($1)
