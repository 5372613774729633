-- A scratch user for race/bench: everything else takes the table's defaults,
-- so a real schema's extra columns and CHECKs apply as for any signup.
-- {extra_columns}/{extra_values}: placeholders quota makes for required
-- columns without defaults (names from the catalog, values by type).
INSERT INTO public.users (id, email, usage_this_month, plan_limits_scrapes, subscription_tier{extra_columns})
VALUES ($1, $2, $3, $4, $5{extra_values})
