COALESCE(pg_catalog.lower(v_sub) = {subject_value}::pg_catalog.text, false)
