-- One admission attempt through the clip trigger. (ctid, xmin) names the
-- inserted row without assuming anything about clips' other columns, so a
-- race on a real user can delete exactly the clips it added.
INSERT INTO public.clips (user_id) VALUES ($1)
RETURNING ctid::text, xmin::text
