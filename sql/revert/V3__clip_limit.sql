-- Revert V3: trigger first (it depends on the function), then the limits.
DROP TRIGGER IF EXISTS enforce_clip_limit_trigger ON public.clips;
DROP FUNCTION IF EXISTS public.enforce_clip_limit();
DROP TABLE IF EXISTS public.clip_limits;
