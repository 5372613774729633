-- The same INSERT with enforce_clip_limit() attached.
INSERT INTO {schema}.clips_trigger (user_id) VALUES ($1)
