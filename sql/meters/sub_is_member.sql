EXISTS (SELECT 1
                FROM {members_table} AS m
               WHERE m.{members_subject} = {subject_value}
                 AND m.{members_user}::pg_catalog.text = pg_catalog.lower(v_sub))
