-- Takes back the clips a race admitted for a real user: the clip counter
-- goes down by the race's own admissions ($2), so the application's clips
-- stay counted. Run after usage_row_locked.sql (the trigger takes the same
-- row lock) in the same transaction; returns the row after, as jsonb.
UPDATE public.user_usage AS uu
   SET clips_this_month = GREATEST(uu.clips_this_month - $2, 0)
 WHERE uu.user_id = $1
RETURNING pg_catalog.to_jsonb(uu)
