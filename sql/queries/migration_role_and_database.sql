-- The role quota runs as and the database, for grant hints.
SELECT current_user::text, current_database()::text
