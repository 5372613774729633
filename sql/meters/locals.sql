  v_period pg_catalog.date := {period_start};
  v_sub pg_catalog.text;
  v_tier pg_catalog.text;
  v_limit {limit_type};
  v_used {counter_type};
