-- V1: monthly period markers next to each counter.
--
-- A counter belongs to the calendar month (UTC) in its period column; the
-- first use in a later month resets it (see V2 and V3). The default is
-- non-volatile, so PostgreSQL stores it in the catalog instead of rewriting
-- the table (no long ACCESS EXCLUSIVE lock on a big users table), and
-- IF NOT EXISTS keeps a re-apply from touching existing data.
-- Existing counters are treated as belonging to the month of installation.

ALTER TABLE public.users
  ADD COLUMN IF NOT EXISTS usage_period_start date NOT NULL
  DEFAULT (date_trunc('month', now() AT TIME ZONE 'UTC'))::date;

ALTER TABLE public.user_usage
  ADD COLUMN IF NOT EXISTS clips_period_start date NOT NULL
  DEFAULT (date_trunc('month', now() AT TIME ZONE 'UTC'))::date;

COMMENT ON COLUMN public.users.usage_period_start IS
  'quota: first day (UTC) of the month usage_this_month counts';
COMMENT ON COLUMN public.user_usage.clips_period_start IS
  'quota: first day (UTC) of the month clips_this_month counts';
