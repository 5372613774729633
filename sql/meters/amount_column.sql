GREATEST(COALESCE({alias}.{amount_column}, 0), 0)
