    SELECT s.{limit} INTO v_limit
      FROM {subject_table} AS s
     WHERE s.{subject_key} = {subj};
