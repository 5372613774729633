-- One admission attempt through the clip trigger. Returns the new clip's
-- primary key as row text ({clip_key}: `ROW(c."id")::text`, built from the
-- catalog's key columns, quoted in Rust), so a race on a real user can delete
-- exactly the clips it added even after the application updated them.
-- {extra_columns}/{extra_values}: placeholders for required columns without defaults.
INSERT INTO public.clips AS c (user_id{extra_columns}) VALUES ($1{extra_values})
RETURNING {clip_key}
