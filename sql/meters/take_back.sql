-- Takes back what a race admitted on a real subject ($1): exactly its own
-- units ($2), never below zero, so the application's admissions stay.
UPDATE {counter_table} AS s
   SET {counter} = GREATEST(COALESCE(s.{counter}, 0) - $2, 0)
 WHERE s.{counter_key} = $1
