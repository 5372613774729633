-- How a command that only looks starts its transaction: one snapshot for
-- the whole report (REPEATABLE READ), and no write can slip in.
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY
