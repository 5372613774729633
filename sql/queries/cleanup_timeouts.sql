-- Bounds a clean-up transaction (a race's take-back, scratch rows): a lock
-- an application session holds (idle in transaction) fails the statement
-- after $1 instead of hanging forever; $2 bounds any statement. LOCAL: ends
-- with the transaction, so nothing leaks to a pooled server connection.
SELECT pg_catalog.set_config('lock_timeout', $1, true),
       pg_catalog.set_config('statement_timeout', $2, true)
