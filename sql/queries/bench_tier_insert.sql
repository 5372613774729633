-- A scratch tier whose clip limit the bench never reaches.
INSERT INTO public.clip_limits (tier, monthly_limit) VALUES ($1, 2147483647)
