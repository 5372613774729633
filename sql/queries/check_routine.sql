-- The function as information_schema.routines lists it, limited to schema public: the
-- RPC must be one FUNCTION returning record.
SELECT r.routine_name::text AS routine_name,
       r.routine_type::text AS routine_type,
       r.data_type::text AS data_type
  FROM information_schema.routines AS r
 WHERE r.routine_schema = 'public'
   AND r.routine_name = 'increment_usage_if_allowed'
 ORDER BY r.specific_name
