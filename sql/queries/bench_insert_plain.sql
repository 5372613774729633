-- The floor for the trigger: a plain INSERT into a clips-shaped table.
INSERT INTO {schema}.clips_plain (user_id{extra_columns}) VALUES ($1{extra_values})
