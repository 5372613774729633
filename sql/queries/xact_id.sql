-- The current transaction's id (assigning one), read before a take-back's
-- COMMIT: if the acknowledgement of that COMMIT is lost, the retry asks
-- xact_status.sql whether it committed instead of subtracting again.
SELECT pg_catalog.txid_current()
