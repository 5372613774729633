-- Removes the referenced rows of scratch users (after the users themselves).
DELETE FROM {parent} WHERE {column} = ANY ($1)
