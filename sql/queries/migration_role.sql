-- The role quota runs as, for "permission denied" hints and the contract's
-- "no privilege" problems.
SELECT current_user::text
