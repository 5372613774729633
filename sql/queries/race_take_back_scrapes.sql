-- Takes back the scrapes a race admitted for a real user, and only those:
-- the counter goes down by the race's own admissions ($2), so admissions
-- the application made meanwhile stay counted. Run after user_row_locked.sql
-- in the same transaction; returns the row after, as jsonb.
UPDATE public.users AS u
   SET usage_this_month = GREATEST(u.usage_this_month - $2, 0)
 WHERE u.id = $1
RETURNING pg_catalog.to_jsonb(u)
