-- Whether the enforcement `quota race` exercises is installed: the RPC, and
-- an enabled enforce_clip_limit_trigger on public.clips.
SELECT to_regprocedure('public.increment_usage_if_allowed(uuid)') IS NOT NULL AS function,
       EXISTS (SELECT 1
                 FROM pg_catalog.pg_trigger AS t
                WHERE t.tgrelid = to_regclass('public.clips')
                  AND t.tgname = 'enforce_clip_limit_trigger'
                  AND t.tgenabled <> 'D') AS trigger
