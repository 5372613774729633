-- Users whose e-mail is $1, exactly or ignoring case and surrounding
-- blanks; exact matches first. Three rows at most: enough to tell one
-- from several. Only ids leave the database: never another user's e-mail.
SELECT u.id, u.email = $1 AS exact
  FROM public.users AS u
 WHERE pg_catalog.lower(pg_catalog.btrim(u.email)) = pg_catalog.lower(pg_catalog.btrim($1))
 ORDER BY exact DESC, u.id
 LIMIT 3
