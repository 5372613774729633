-- The row a scratch user's id references (on Supabase: auth.users), with
-- placeholders for its required columns. {parent} and {column} come from
-- the catalog (key_parent.sql).
INSERT INTO {parent} ({column}{extra_columns}) VALUES ($1{extra_values})
