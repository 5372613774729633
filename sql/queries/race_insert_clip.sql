-- One admission attempt through the clip trigger. (ctid, xmin) names the
-- inserted row without assuming anything about clips' other columns, so a
-- race on a real user can delete exactly the clips it added.
-- {extra_columns}/{extra_values}: placeholders for required columns without defaults.
INSERT INTO public.clips (user_id{extra_columns}) VALUES ($1{extra_values})
RETURNING ctid::text, xmin::text
