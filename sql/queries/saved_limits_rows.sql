-- The clip limits a rollback saved (saved_limits_save.sql), when there are.
SELECT s.tier, s.monthly_limit
  FROM quota.saved_clip_limits AS s
 ORDER BY s.tier
