-- Every subject of one mapped meter with its usage this period as its
-- function sees it (a counter of an earlier period counts as 0), its limit
-- (the column, or the tier's row in quota.meter_limits, else the default
-- tier's) and the stored counter and period marker: the base of the
-- `user`, `users`, `reset-user`, `report`, `limits` and `metrics` queries
-- on a mapping, which append their own SELECT. Subjects are named by id
-- only: no e-mail or other personal data.
WITH per_subject AS (
  SELECT s.{subject_key} AS id,
         {tier_value} AS tier,
         {used}::pg_catalog.int8 AS used,
         {limit_value}::pg_catalog.int8 AS lim,
         {own_limit} AS own_limit,
         {counter_alias}.{counter}::pg_catalog.int8 AS stored,
         {marker_value} AS marker,
         {period_start}::pg_catalog.text AS period
    FROM {subject_table} AS s{counter_join}{limit_join}
)
