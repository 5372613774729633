-- Revert V2: dropping the function drops its grants with it.
DROP FUNCTION IF EXISTS public.increment_usage_if_allowed(uuid);
