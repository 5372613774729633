GREATEST(COALESCE(n.{amount_column}, 0), 0)
