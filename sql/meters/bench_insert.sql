-- `bench --meter` on a trigger meter: one row into a twin of the metered
-- table ({table}: the floor, or the twin with the meter's trigger), charged
-- to the subject ($1) by one unit; other required columns get placeholders.
INSERT INTO {table} ({subject_column}{amount_column}{extra_columns})
VALUES ($1{amount_value}{extra_values})
