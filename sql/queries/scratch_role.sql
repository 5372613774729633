-- The role quota runs as, for the grants a scratch insert may need.
SELECT current_user::text
