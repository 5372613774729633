-- Deletes the clips a race inserted for a real user, and only those: a row
-- is ours when its primary key ({clip_key}, as in race_insert_clip.sql) is
-- one RETURNING gave us ($2).
DELETE FROM public.clips AS c
 WHERE c.user_id = $1
   AND {clip_key} = ANY ($2::text[])
