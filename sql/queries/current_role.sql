-- The role quota runs as, to name it in messages and GRANT hints.
SELECT current_user::text
