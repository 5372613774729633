-- The oid of a function given by signature, NULL when it does not exist.
SELECT pg_catalog.to_regprocedure($1)::oid
