-- Removes everything bench_setup.sql created (and nothing else: the schema
-- holds only quota's scratch tables, their sequences and the trigger).
DROP SCHEMA IF EXISTS {schema} CASCADE;
