-- Whether quota's record of mapped meters exists (quota.toml installs).
SELECT pg_catalog.to_regclass('quota.meters') IS NOT NULL
