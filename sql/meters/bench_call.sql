-- `bench --meter` on a rpc meter: one call for a subject ($1) of an amount
-- ($2), in the shape the default bench calls the seed function.
SELECT allowed FROM {function}($1, $2)
