-- The mapped meters installed: the mapping, checksum and revert each was
-- installed with, and the digest of its function's body at install.
SELECT meter, checksum, mapping::text, revert_code, revert_data, body_md5,
       pg_catalog.to_char(installed_on AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS"Z"')
  FROM quota.meters
 ORDER BY meter
