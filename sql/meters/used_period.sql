(CASE WHEN {alias}.{marker} < v_period THEN 0 ELSE COALESCE({alias}.{counter}, 0) END)
