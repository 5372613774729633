-- Deletes the rows a race inserted ($1, their keys as text).
DELETE FROM {on} AS t WHERE t.{row_key}::pg_catalog.text = ANY ($1::pg_catalog.text[])
