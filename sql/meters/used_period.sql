(CASE WHEN {alias}.{marker} < {period} THEN 0 ELSE COALESCE({alias}.{counter}, 0) END)
