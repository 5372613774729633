-- Records (or re-records, after a repair) an installed mapped meter.
INSERT INTO quota.meters (meter, kind, checksum, mapping, revert_code, revert_data, body_md5, quota_version)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)
ON CONFLICT (meter) DO UPDATE
   SET kind = excluded.kind, checksum = excluded.checksum, mapping = excluded.mapping,
       revert_code = excluded.revert_code, revert_data = excluded.revert_data,
       body_md5 = excluded.body_md5, quota_version = excluded.quota_version,
       installed_on = pg_catalog.now(), installed_by = CURRENT_USER
