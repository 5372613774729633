-- Tables in every shape a quota.toml meter can take, for .ci/lint-sql:
-- quota installs a meter of each shape on them and plpgsql_check reads
-- every function it renders.
CREATE TABLE public.accounts (
  id uuid PRIMARY KEY,
  plan text,
  credits bigint NOT NULL DEFAULT 0,
  credit_limit bigint,
  calls integer NOT NULL DEFAULT 0,
  uploads integer NOT NULL DEFAULT 0,
  upload_limit integer
);
CREATE TABLE public.members (
  account_id uuid NOT NULL REFERENCES public.accounts (id),
  user_id uuid NOT NULL,
  PRIMARY KEY (account_id, user_id)
);
CREATE TABLE public.usage (
  account_id uuid PRIMARY KEY REFERENCES public.accounts (id),
  exports integer NOT NULL DEFAULT 0,
  pages bigint NOT NULL DEFAULT 0
);
CREATE TABLE public.documents (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES public.accounts (id),
  pages integer NOT NULL
);
CREATE TABLE public.uploads (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES public.accounts (id)
);
