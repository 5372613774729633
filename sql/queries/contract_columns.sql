-- The columns of the schema contract's tables as they exist, with their
-- types in information_schema spelling ("integer", "text", "uuid").
SELECT c.table_name::text AS table_name,
       c.column_name::text AS column_name,
       c.data_type::text AS data_type
  FROM information_schema.columns AS c
 WHERE c.table_schema = 'public'
   AND c.table_name = ANY ($1)
 ORDER BY c.table_name, c.ordinal_position
