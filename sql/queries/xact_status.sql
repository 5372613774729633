-- Whether transaction $1 (from xact_id.sql) committed: 'committed',
-- 'aborted' or 'in progress'.
SELECT pg_catalog.txid_status($1)
