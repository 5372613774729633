-- The same INSERT with enforce_clip_limit() attached.
INSERT INTO {schema}.clips_trigger (user_id{extra_columns}) VALUES ($1{extra_values})
