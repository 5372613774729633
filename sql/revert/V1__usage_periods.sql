-- Revert V1: drop the period markers; the counters themselves stay.
ALTER TABLE public.user_usage DROP COLUMN IF EXISTS clips_period_start;
ALTER TABLE public.users DROP COLUMN IF EXISTS usage_period_start;
