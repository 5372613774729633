-- Deletes the clips a race inserted for a real user, and only those: a row
-- is ours when its (ctid, xmin) is one RETURNING gave us.
DELETE FROM public.clips AS c
 USING unnest($2::text[], $3::text[]) AS r(tid, xid)
 WHERE c.user_id = $1
   AND c.ctid = r.tid::tid
   AND c.xmin::text = r.xid
