COALESCE({alias}.{counter}, 0)
