-- Whether a table exists, by its schema-qualified name (bound, so the name
-- stays the constant of the build): where the migration history is.
SELECT pg_catalog.to_regclass($1) IS NOT NULL
