-- quota demo schema: a Supabase-shaped application database that satisfies
-- the schema contract. Used by `quota sandbox` and by the tests; never run
-- against production (the tool only checks production schemas).

-- Supabase's API roles, created only where missing (they are cluster-wide).
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created meanwhile by a concurrent loader
      END;
    END IF;
  END LOOP;
END
$roles$;

GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

-- Like Supabase: everything new in public is granted to the API roles, and
-- row level security decides what they may actually touch.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;

-- auth.uid() as Supabase defines it: the JWT's sub claim.
CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE
AS $$
  SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid
$$;

CREATE TABLE IF NOT EXISTS public.users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL UNIQUE,
  plan text NOT NULL DEFAULT 'FREE',
  subscription_status text NOT NULL DEFAULT 'none',
  usage_this_month integer NOT NULL DEFAULT 0,
  plan_limits_scrapes integer DEFAULT 5,
  subscription_tier text NOT NULL DEFAULT 'free',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.user_usage (
  user_id uuid PRIMARY KEY REFERENCES public.users (id) ON DELETE CASCADE,
  clips_this_month integer NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS public.clips (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  url text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS clips_user_id_idx ON public.clips (user_id);

-- Supabase's GRANT ALL includes TRUNCATE, TRIGGER and REFERENCES, which row
-- level security does not restrict (`quota check security` fails on them);
-- a careful project takes them back from the API roles.
REVOKE TRUNCATE, TRIGGER, REFERENCES ON public.users, public.user_usage FROM anon, authenticated;

-- Row level security as a Supabase project would have it: signed-in users
-- read their own rows and insert their own clips; nobody updates counters.
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.clips ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS users_select_own ON public.users;
CREATE POLICY users_select_own ON public.users FOR SELECT TO authenticated
  USING (id = auth.uid());
DROP POLICY IF EXISTS user_usage_select_own ON public.user_usage;
CREATE POLICY user_usage_select_own ON public.user_usage FOR SELECT TO authenticated
  USING (user_id = auth.uid());
DROP POLICY IF EXISTS clips_select_own ON public.clips;
CREATE POLICY clips_select_own ON public.clips FOR SELECT TO authenticated
  USING (user_id = auth.uid());
DROP POLICY IF EXISTS clips_insert_own ON public.clips;
CREATE POLICY clips_insert_own ON public.clips FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid());

-- Sample users: fixed ids so the README's examples work in the sandbox.
INSERT INTO public.users (id, email, plan, subscription_status, usage_this_month, plan_limits_scrapes, subscription_tier)
VALUES
  ('11111111-1111-4111-8111-111111111111', 'free@example.com',    'FREE', 'none',     0, 5,    'free'),
  ('22222222-2222-4222-8222-222222222222', 'pro@example.com',     'PRO',  'active',  42, 1000, 'pro'),
  ('33333333-3333-4333-8333-333333333333', 'limited@example.com', 'FREE', 'none',     5, 5,    'free'),
  ('44444444-4444-4444-8444-444444444444', 'nearly@example.com',  'FREE', 'none',     4, 5,    'free')
ON CONFLICT (id) DO NOTHING;

INSERT INTO public.user_usage (user_id, clips_this_month)
VALUES
  ('11111111-1111-4111-8111-111111111111', 3),
  ('22222222-2222-4222-8222-222222222222', 120),
  ('33333333-3333-4333-8333-333333333333', 50),
  ('44444444-4444-4444-8444-444444444444', 46)
ON CONFLICT (user_id) DO NOTHING;
